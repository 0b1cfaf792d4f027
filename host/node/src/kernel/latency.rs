//! Callback times of one strategy, in power-of-two buckets: recording is an add, and the
//! p50/p99 it reports are the upper bound of the bucket the quantile falls in (within a
//! factor of two), which is what an operator needs to see a strategy slowing down.

/// A histogram of callback durations.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    buckets: [u64; 32],
    count: u64,
}

impl Latency {
    /// Record one callback of `ns` nanoseconds.
    pub fn record(&mut self, ns: u64) {
        let b = (64 - ns.leading_zeros()) as usize;
        self.buckets[b.min(self.buckets.len() - 1)] += 1;
        self.count += 1;
    }

    /// Callbacks counted in each bucket: bucket `b` holds durations below `2^b` ns (and
    /// at least `2^(b-1)`), the last one everything longer.
    pub fn buckets(&self) -> &[u64; 32] {
        &self.buckets
    }

    /// The `q` quantile (0..=1) as a bucket's upper bound, ns (0 with no samples).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return if b == 0 { 0 } else { (1u64 << b) - 1 };
            }
        }
        u64::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_fall_in_the_right_power_of_two() {
        let mut l = Latency::default();
        assert_eq!(l.quantile(0.5), 0);
        for _ in 0..98 {
            l.record(1_500); // bucket up to 2,047
        }
        l.record(40_000); // up to 65,535
        l.record(40_000);
        assert_eq!(l.quantile(0.5), 2_047);
        assert_eq!(l.quantile(0.99), 65_535);
    }
}
