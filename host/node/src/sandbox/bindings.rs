//! Host-side bindings generated from `wit/` (the one contract).

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "strategy",
    // `submit` may trap: a strategy flooding intents is stopped mid-callback.
    imports: { "polybox:strategy/host.submit": trappable },
});

pub use polybox::strategy::host;
pub use polybox::strategy::types;
