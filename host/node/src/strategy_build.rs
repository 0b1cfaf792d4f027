//! `polybox build`: compile a strategy crate to `wasm32-unknown-unknown`, turn the core
//! module into a component (wit-component), and refuse anything that imports outside the
//! polybox world.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sandbox::contract;

/// Why a strategy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The directory holds no readable Cargo.toml with a package name.
    #[error("{0}: not a strategy crate (no Cargo.toml with [package] name)")]
    NotACrate(PathBuf),
    /// The crate is not a cdylib.
    #[error("{0}: add `crate-type = [\"cdylib\", \"rlib\"]` under [lib] to build a component")]
    NotCdylib(PathBuf),
    /// No way to compile for wasm32-unknown-unknown.
    #[error(
        "the wasm32-unknown-unknown target is not installed: run `rustup target add wasm32-unknown-unknown` \
         (without rustup: `apt-get install rustc-web cargo-web rust-web-src lld` for the build-std fallback)"
    )]
    NoWasmTarget,
    /// cargo failed.
    #[error("cargo build of {crate_name} for wasm32-unknown-unknown failed (see its output above)")]
    Cargo {
        /// The crate.
        crate_name: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The problem.
        source: std::io::Error,
    },
    /// wit-component could not make a component.
    #[error("cannot turn {path} into a component: {message}")]
    Componentize {
        /// The core module.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The component is not a valid polybox strategy.
    #[error("{path}: {source}")]
    Contract {
        /// The component.
        path: PathBuf,
        /// The problem.
        source: contract::ContractError,
    },
}

/// Where and how to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Cargo target directory for the wasm build (kept apart from the host's).
    pub target_dir: PathBuf,
    /// Where `<name>.wasm` components are written.
    pub out_dir: PathBuf,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            target_dir: PathBuf::from("target/wasm-build"),
            out_dir: PathBuf::from("target/strategies"),
        }
    }
}

/// How the wasm std library is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Toolchain {
    /// rustup's `wasm32-unknown-unknown` target.
    Rustup,
    /// Debian's matched rustc-web + rust-web-src, building std from source.
    BuildStd,
}

fn detect_toolchain() -> Result<Toolchain, BuildError> {
    let libdir = Command::new("rustc")
        .args([
            "--print",
            "target-libdir",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if libdir.is_some_and(|d| d.is_dir()) {
        return Ok(Toolchain::Rustup);
    }
    let debian = Path::new("/usr/bin/rustc").exists()
        && Path::new("/usr/lib/rustlib/src/rust/library").is_dir();
    if debian {
        return Ok(Toolchain::BuildStd);
    }
    Err(BuildError::NoWasmTarget)
}

fn package_name(dir: &Path) -> Result<String, BuildError> {
    let manifest = dir.join("Cargo.toml");
    let text =
        std::fs::read_to_string(&manifest).map_err(|_| BuildError::NotACrate(dir.to_owned()))?;
    let doc: toml::Table =
        toml::from_str(&text).map_err(|_| BuildError::NotACrate(dir.to_owned()))?;
    let name = doc
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .ok_or_else(|| BuildError::NotACrate(dir.to_owned()))?;
    let cdylib = doc
        .get("lib")
        .and_then(|l| l.get("crate-type"))
        .and_then(|c| c.as_array())
        .is_some_and(|a| a.iter().any(|t| t.as_str() == Some("cdylib")));
    if !cdylib {
        return Err(BuildError::NotCdylib(dir.to_owned()));
    }
    Ok(name.to_owned())
}

/// Build the strategy crate in `dir`; returns the path of the component written.
pub fn build(dir: &Path, opts: &BuildOptions) -> Result<PathBuf, BuildError> {
    let name = package_name(dir)?;
    let toolchain = detect_toolchain()?;
    let mut cargo = Command::new("cargo");
    cargo
        .arg("build")
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .args(["--release", "--lib", "--target", "wasm32-unknown-unknown"])
        .arg("--target-dir")
        .arg(&opts.target_dir)
        // The strategy release profile, whatever the crate's own workspace says.
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env_remove("CARGO_TARGET_DIR");
    if toolchain == Toolchain::BuildStd {
        eprintln!(
            "polybox build: the rustup wasm32-unknown-unknown target is missing; falling back to Debian's rustc-web with -Zbuild-std (RUSTC_BOOTSTRAP=1)"
        );
        cargo
            .env("RUSTC", "/usr/bin/rustc")
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["-Zbuild-std=std,panic_abort"]);
    }
    let status = cargo.status().map_err(|source| BuildError::Io {
        path: PathBuf::from("cargo"),
        source,
    })?;
    if !status.success() {
        return Err(BuildError::Cargo { crate_name: name });
    }
    let stem = name.replace('-', "_");
    let module_path = opts
        .target_dir
        .join("wasm32-unknown-unknown/release")
        .join(format!("{stem}.wasm"));
    let module = std::fs::read(&module_path).map_err(|source| BuildError::Io {
        path: module_path.clone(),
        source,
    })?;
    let component = componentize(&module).map_err(|message| BuildError::Componentize {
        path: module_path.clone(),
        message,
    })?;
    let out = opts.out_dir.join(format!("{stem}.wasm"));
    contract::check(&component).map_err(|source| BuildError::Contract {
        path: out.clone(),
        source,
    })?;
    std::fs::create_dir_all(&opts.out_dir).map_err(|source| BuildError::Io {
        path: opts.out_dir.clone(),
        source,
    })?;
    std::fs::write(&out, component).map_err(|source| BuildError::Io {
        path: out.clone(),
        source,
    })?;
    Ok(out)
}

/// Turn a core module carrying component-type metadata into a component.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .module(module)
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| format!("{e:#}"))
}
