//! Compiled-component cache: compiling a strategy takes tens of milliseconds (seconds
//! unoptimised), loading a precompiled one a fraction of that. Entries are keyed by the
//! SHA-256 of the `.wasm` and the engine's compatibility hash, so a changed component or
//! engine config never loads a stale artefact.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The default cache directory: `$XDG_CACHE_HOME/polybox` or `~/.cache/polybox`.
pub fn default_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("polybox"))
}

fn key(engine: &Engine, bytes: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}-{:016x}.cwasm", h.finish())
}

/// Load a component, from the cache when possible; compile and store it otherwise.
/// Cache failures are never fatal: the component is then just compiled.
pub fn load(engine: &Engine, bytes: &[u8], dir: Option<&Path>) -> wasmtime::Result<Component> {
    let Some(dir) = dir else {
        return Component::new(engine, bytes);
    };
    let path = dir.join(key(engine, bytes));
    if path.exists() {
        match deserialize(engine, &path) {
            Ok(c) => return Ok(c),
            Err(e) => tracing::warn!(path = %path.display(), "ignoring unusable cache entry: {e}"),
        }
    }
    let component = Component::new(engine, bytes)?;
    if let Err(e) = store(&component, dir, &path) {
        tracing::warn!(dir = %dir.display(), "cannot write the component cache: {e}");
    }
    Ok(component)
}

fn store(component: &Component, dir: &Path, path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, component.serialize()?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: the file was written by `store` above from `Component::serialize` of this
    // engine's config (its compatibility hash is in the name), into the host's own cache
    // directory, and renamed into place only once complete. wasmtime still checks the
    // header and engine compatibility before use.
    unsafe { Component::deserialize_file(engine, path) }
}
