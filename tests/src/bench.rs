//! A small harness for the bench binaries: per-operation samples, percentiles, and a JSON
//! summary in `target/bench/<name>.json`.

use std::path::PathBuf;

/// Nanosecond samples of one operation.
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<u64>);

impl Samples {
    /// Room for `n` samples (so recording does not allocate).
    pub fn with_capacity(n: usize) -> Self {
        Samples(Vec::with_capacity(n))
    }

    /// Add one sample, ns.
    pub fn push(&mut self, ns: u64) {
        self.0.push(ns);
    }

    /// The `q` quantile (0..=1), ns.
    pub fn quantile(&mut self, q: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        self.0.sort_unstable();
        let i = ((self.0.len() - 1) as f64 * q).round() as usize;
        self.0[i]
    }

    /// p50, p99 and mean as JSON, ns.
    pub fn summary(&mut self) -> serde_json::Value {
        let n = self.0.len();
        let mean = if n == 0 {
            0
        } else {
            self.0.iter().sum::<u64>() / n as u64
        };
        serde_json::json!({
            "samples": n,
            "p50_ns": self.quantile(0.5),
            "p99_ns": self.quantile(0.99),
            "mean_ns": mean,
        })
    }
}

/// Write `value` to `target/bench/<name>.json` and print it; returns the path.
pub fn write(name: &str, value: &serde_json::Value) -> std::io::Result<PathBuf> {
    let dir = crate::root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(&path, &text)?;
    println!("{text}\n→ {}", path.display());
    Ok(path)
}
