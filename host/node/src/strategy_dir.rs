//! A strategies folder watched while the host runs (`polybox run --watch DIR`): a
//! component written there under the name of a running strategy is compiled off the
//! kernel thread and swapped in at the next event boundary. A file is taken once its size
//! and modification time have held still for one scan, so a copy in progress is not read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use crate::sandbox::{LoadedStrategy, Sandbox};

/// A component that appeared or changed in the folder: compiled, or why not.
pub type Arrival = Result<Arc<LoadedStrategy>, String>;

type Seen = BTreeMap<PathBuf, (SystemTime, u64)>;

fn scan(dir: &Path) -> Seen {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Seen::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((e.path(), (m.modified().ok()?, m.len())))
        })
        .collect()
}

/// Watch `dir` every `every` until the receiver is dropped; files already there at the
/// start are not sent.
pub fn watch(
    runtime: &tokio::runtime::Runtime,
    dir: PathBuf,
    sandbox: Arc<Sandbox>,
    every: Duration,
) -> mpsc::Receiver<Arrival> {
    let (tx, rx) = mpsc::channel(8);
    runtime.spawn(async move {
        let mut taken = scan(&dir);
        let mut last = taken.clone();
        loop {
            tokio::time::sleep(every).await;
            let now = scan(&dir);
            for (path, stamp) in &now {
                let settled = last.get(path) == Some(stamp);
                if !settled || taken.get(path) == Some(stamp) {
                    continue;
                }
                taken.insert(path.clone(), *stamp);
                let (sandbox, path) = (Arc::clone(&sandbox), path.clone());
                let compiled = tokio::task::spawn_blocking(move || sandbox.load(&path))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map(Arc::new).map_err(|e| e.to_string()));
                if tx.send(compiled).await.is_err() {
                    return;
                }
            }
            last = now;
        }
    });
    rx
}
