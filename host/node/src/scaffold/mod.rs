//! `polybox new-strategy PATH`: a strategy crate from the template, ready for
//! `polybox build PATH` and `cargo test`.
//!
//! Outside the polybox workspace the crate is its own workspace and depends on the SDK by
//! path (the workspace's `Cargo.lock` is copied in, so it builds with the versions polybox
//! is tested with); under the workspace's `strategies/` it becomes a member.

use std::path::{Path, PathBuf};

/// Why the crate was not created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The folder is there already: nothing is overwritten.
    #[error("{0} exists already: choose a new folder (nothing was written)")]
    Exists(PathBuf),
    /// The name cannot be a crate name.
    #[error(
        "`{0}` cannot name a strategy: use ASCII letters, digits, `-` and `_`, starting with a letter"
    )]
    BadName(String),
    /// The SDK is not where it was looked for.
    #[error("no polybox SDK at {0} (no Cargo.toml naming polybox-sdk): pass --sdk DIR")]
    NoSdk(PathBuf),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The problem.
        source: std::io::Error,
    },
}

const LIB: &str = include_str!("lib.rs.tmpl");

/// The SDK this binary was built with (`sdk/` beside `host/`).
pub fn default_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ScaffoldError + '_ {
    move |source| ScaffoldError::Io {
        path: path.to_owned(),
        source,
    }
}

/// `demo-bot` → `DemoBot`.
fn type_name(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Create the crate at `path` against the SDK at `sdk`; returns the crate's folder.
pub fn new_strategy(path: &Path, sdk: &Path) -> Result<PathBuf, ScaffoldError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(ScaffoldError::BadName(name));
    }
    if path.exists() {
        return Err(ScaffoldError::Exists(path.to_owned()));
    }
    let sdk_manifest = sdk.join("Cargo.toml");
    let sdk = match std::fs::read_to_string(&sdk_manifest) {
        Ok(text) if text.contains("name = \"polybox-sdk\"") => {
            std::path::absolute(sdk).map_err(io(sdk))?
        }
        _ => return Err(ScaffoldError::NoSdk(sdk.to_owned())),
    };
    let workspace = sdk.parent().map(Path::to_owned).unwrap_or_default();
    let parent = std::path::absolute(path)
        .map_err(io(path))?
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default();
    let member = normal(&parent) == normal(&workspace.join("strategies"));
    let manifest = if member {
        format!(
            r#"[package]
name = "{name}"
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
polybox-sdk.workspace = true

[lints]
workspace = true
"#
        )
    } else {
        format!(
            r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

# A polybox strategy: `polybox build .` makes target/strategies/{strategy}.wasm.
[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
polybox-sdk = {{ path = {sdk:?} }}

# Its own workspace, wherever it is put.
[workspace]
"#,
            strategy = name.replace('-', "_"),
            sdk = sdk.display().to_string(),
        )
    };
    let lib = LIB
        .replace("{{name}}", &name.replace('-', "_"))
        .replace("{{type}}", &type_name(&name));
    let src = path.join("src");
    std::fs::create_dir_all(&src).map_err(io(&src))?;
    let write = |file: PathBuf, text: &str| std::fs::write(&file, text).map_err(io(&file));
    write(path.join("Cargo.toml"), &manifest)?;
    write(src.join("lib.rs"), &lib)?;
    if !member {
        write(path.join(".gitignore"), "/target\n")?;
        let lock = workspace.join("Cargo.lock");
        if lock.exists() {
            std::fs::copy(&lock, path.join("Cargo.lock")).map_err(io(&lock))?;
        }
    }
    Ok(path.to_owned())
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normal(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_types() {
        assert_eq!(type_name("demo"), "Demo");
        assert_eq!(type_name("my-mean_reverter"), "MyMeanReverter");
    }

    #[test]
    fn bad_names_existing_folders_and_missing_sdks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sdk = default_sdk();
        assert!(matches!(
            new_strategy(&dir.path().join("9lives"), &sdk),
            Err(ScaffoldError::BadName(_))
        ));
        assert!(matches!(
            new_strategy(dir.path(), &sdk),
            Err(ScaffoldError::BadName(_)) | Err(ScaffoldError::Exists(_))
        ));
        std::fs::create_dir(dir.path().join("taken")).unwrap();
        std::fs::write(dir.path().join("taken/keep"), "mine").unwrap();
        assert!(matches!(
            new_strategy(&dir.path().join("taken"), &sdk),
            Err(ScaffoldError::Exists(_))
        ));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("taken/keep")).unwrap(),
            "mine"
        );
        assert!(matches!(
            new_strategy(&dir.path().join("demo"), dir.path()),
            Err(ScaffoldError::NoSdk(_))
        ));
        assert!(!dir.path().join("demo").exists());
    }

    #[test]
    fn a_crate_outside_the_workspace_is_its_own_and_pins_the_sdk() {
        let dir = tempfile::tempdir().unwrap();
        let made = new_strategy(&dir.path().join("demo-bot"), &default_sdk()).unwrap();
        let manifest = std::fs::read_to_string(made.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"demo-bot\""), "{manifest}");
        assert!(manifest.contains("[workspace]"), "{manifest}");
        assert!(
            manifest.contains("polybox-sdk = { path = \"/"),
            "{manifest}"
        );
        let lib = std::fs::read_to_string(made.join("src/lib.rs")).unwrap();
        assert!(lib.contains("export_strategy!(DemoBot);"), "{lib}");
        assert!(!lib.contains("{{"), "every placeholder is filled: {lib}");
        assert!(made.join("Cargo.lock").exists());
    }
}
