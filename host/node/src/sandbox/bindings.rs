//! Host-side bindings generated from `wit/` (the one contract).

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "strategy",
});

pub use polybox::strategy::host;
pub use polybox::strategy::types;
