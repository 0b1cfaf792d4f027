//! Which components are strategies for this host: those whose every import is the
//! polybox host interface (no WASI, nothing else), that export the guest interface, and
//! whose contract version this host supports.

use std::fmt;

use wit_component::DecodedWasm;

/// The WIT package this host implements.
pub const PACKAGE: &str = "polybox:strategy";
/// The contract version this host implements (`wit/strategy.wit`).
pub const VERSION: (u64, u64, u64) = (0, 1, 0);

/// Why a `.wasm` file is not a strategy for this host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// Not WebAssembly at all.
    #[error("not a WebAssembly file (bad magic number)")]
    NotWasm,
    /// A core module, not a component.
    #[error(
        "a core WebAssembly module, not a component: build strategies with `polybox build <crate-dir>`"
    )]
    CoreModule,
    /// The component's type information could not be decoded.
    #[error("cannot read the component's interfaces: {0}")]
    Undecodable(String),
    /// Built for another version of the contract.
    #[error(
        "built for {PACKAGE}@{found}, but this host supports {PACKAGE}@{}: rebuild it against a compatible polybox-sdk",
        Supported
    )]
    Version {
        /// The version the component was built for.
        found: String,
    },
    /// Imports outside the polybox world.
    #[error(
        "imports {} outside the polybox world: strategies get no WASI or other host APIs; build for wasm32-unknown-unknown with polybox-sdk",
        .0.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
    )]
    ForeignImports(Vec<String>),
    /// Does not export the strategy interface.
    #[error("does not export `{PACKAGE}/guest`: is it built with `polybox_sdk::export_strategy!`?")]
    NoGuestExport,
}

struct Supported;

impl fmt::Display for Supported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b, c) = VERSION;
        write!(f, "{a}.{b}.x (up to {a}.{b}.{c})")
    }
}

/// Whether a component built for `version` can run on this host: same 0.minor (or
/// major), patch not newer than ours.
fn compatible(version: &str) -> bool {
    let parts: Vec<u64> = version
        .split(['.', '-', '+'])
        .take(3)
        .map_while(|p| p.parse().ok())
        .collect();
    let [major, minor, patch] = parts[..] else {
        return false;
    };
    let (hm, hn, hp) = VERSION;
    if major == 0 {
        major == hm && minor == hn && patch <= hp
    } else {
        major == hm && (minor, patch) <= (hn, hp)
    }
}

/// Check a `.wasm` file's bytes against the contract; returns the contract version it
/// was built for.
pub fn check(bytes: &[u8]) -> Result<String, ContractError> {
    if !bytes.starts_with(b"\0asm") {
        return Err(ContractError::NotWasm);
    }
    if !wasmparser::Parser::is_component(bytes) {
        return Err(ContractError::CoreModule);
    }
    let decoded =
        wit_component::decode(bytes).map_err(|e| ContractError::Undecodable(format!("{e:#}")))?;
    let DecodedWasm::Component(resolve, world_id) = decoded else {
        return Err(ContractError::CoreModule);
    };
    let world = &resolve.worlds[world_id];
    let mut foreign = Vec::new();
    let mut version: Option<String> = None;
    let mut note = |name: String| -> bool {
        match name.split_once('@') {
            Some((iface, v)) if iface.starts_with(&format!("{PACKAGE}/")) => {
                version.get_or_insert_with(|| v.to_owned());
                true
            }
            _ => false,
        }
    };
    for key in world.imports.keys() {
        let name = resolve.name_world_key(key);
        let ok = match name.split_once('@').map(|(i, _)| i) {
            Some(i) if i == format!("{PACKAGE}/host") || i == format!("{PACKAGE}/types") => {
                note(name.clone())
            }
            _ => false,
        };
        if !ok {
            foreign.push(name);
        }
    }
    let mut exports_guest = false;
    for key in world.exports.keys() {
        let name = resolve.name_world_key(key);
        if name.starts_with(&format!("{PACKAGE}/guest@")) {
            exports_guest = true;
            note(name);
        }
    }
    let found = version.unwrap_or_default();
    if !found.is_empty() && !compatible(&found) {
        return Err(ContractError::Version { found });
    }
    if !foreign.is_empty() {
        return Err(ContractError::ForeignImports(foreign));
    }
    if !exports_guest {
        return Err(ContractError::NoGuestExport);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(compatible("0.1.0"));
        assert!(!compatible("0.1.1"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible("1.0.0"));
        assert!(!compatible("garbage"));
    }

    #[test]
    fn non_wasm_and_core_modules_are_named() {
        assert_eq!(check(b"hello"), Err(ContractError::NotWasm));
        let core = [0, b'a', b's', b'm', 1, 0, 0, 0];
        assert_eq!(check(&core), Err(ContractError::CoreModule));
    }
}
