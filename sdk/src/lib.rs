//! # polybox-sdk
//!
//! Write polybox trading strategies in Rust. A strategy is a type that implements
//! [`Strategy`]; [`export_strategy!`] turns it into a WebAssembly component that the polybox
//! host loads, and [`testing`] drives it natively, without any WebAssembly, in unit tests.
//!
//! A strategy sees market events and the updates of its own orders, and acts only
//! through [`Host`]: it submits intents (each checked by the host's risk gate, which
//! answers at once), cancels its own orders, reads books and positions, sets timers, and
//! logs. It has no files, sockets, keys or wall clock.
//!
//! Numbers are exact integers: prices in micro-USDC per share ([`Price`]), sizes in
//! micro-shares ([`Size`]), money in signed micro-USDC.
//!
//! ## A complete strategy
//!
//! `Cargo.toml`:
//! ```toml
//! [package]
//! name = "dip-buyer"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! polybox-sdk = { path = "../../sdk" }
//! ```
//!
//! `src/lib.rs`:
//! ```
//! use polybox_sdk::{
//!     BookUpdate, Host, Intent, MarketInfo, Price, Side, Size, Strategy, TimeInForce,
//!     export_strategy,
//! };
//!
//! /// Buys 5 shares whenever the best ask drops below a threshold.
//! pub struct DipBuyer {
//!     below: Price,
//! }
//!
//! impl Strategy for DipBuyer {
//!     fn init(
//!         config: &str,
//!         markets: &[MarketInfo],
//!         _host: &mut dyn Host,
//!     ) -> Result<(Self, Vec<String>), String> {
//!         let below = match config.trim() {
//!             "" => Price::parse("0.30")?,
//!             text => Price::parse(text)?,
//!         };
//!         let tokens = markets.iter().map(|m| m.token.clone()).collect();
//!         Ok((DipBuyer { below }, tokens))
//!     }
//!
//!     fn on_book(&mut self, host: &mut dyn Host, update: &BookUpdate) {
//!         let Some(ask) = update.top.ask else { return };
//!         if update.tradable && ask.price < self.below.micros() {
//!             let _verdict = host.submit(Intent {
//!                 token: update.token.clone(),
//!                 side: Side::Buy,
//!                 price: ask.price,
//!                 size: Size::shares(5).micros(),
//!                 tif: TimeInForce::Fak,
//!                 post_only: false,
//!             });
//!         }
//!     }
//! }
//!
//! export_strategy!(DipBuyer);
//!
//! // A unit test (in the crate's `#[cfg(test)] mod tests`), with no WebAssembly involved:
//! use polybox_sdk::testing::Harness;
//! # fn main() {
//! let mut h = Harness::<DipBuyer>::start("0.30", &[Harness::<DipBuyer>::market("1")]).unwrap();
//! h.book("1", &[("0.24", "100")], &[("0.25", "100")]);
//! assert_eq!(h.intents().len(), 1);
//! assert_eq!(h.intents()[0].price, 250_000);
//! # }
//! ```
//!
//! Build it into a component with `polybox build path/to/dip-buyer`; run it with
//! `polybox replay --strategy target/strategies/dip_buyer.wasm`.

#![warn(missing_docs)]

mod host;
mod params;
mod units;

pub mod testing;

#[doc(hidden)]
pub mod wit {
    #![allow(missing_docs, unsafe_code, clippy::all)]
    wit_bindgen::generate!({
        path: "../wit",
        world: "strategy",
        pub_export_macro: true,
        default_bindings_module: "polybox_sdk::wit",
    });
}

pub use host::{Host, WasmHost};
pub use params::{Params, StateReader, StateWriter};
pub use units::{BookExt, Price, Size, UnitError};
pub use wit::polybox::strategy::types::{
    BookDepth, BookUpdate, Event, FeedStatus, Fill, Intent, Level, LevelChange, LogLevel,
    MarketInfo, OpenOrder, OrderStatus, OrderUpdate, Position, RejectReason, Rejection, Side,
    State, StrategyMeta, TickChange, TimeInForce, TopOfBook, Trade,
};

/// A host-assigned order id.
pub type OrderId = u64;

/// A trading strategy. Every handler has a no-op default: implement what you need.
///
/// Handlers run one at a time, under a CPU budget and a memory cap. A handler that traps
/// (panics), runs past its budget or exhausts its memory gets the strategy quarantined:
/// its orders are cancelled and it is restarted later from its last snapshot.
pub trait Strategy: Sized + 'static {
    /// Build the strategy from its config (TOML text, maybe empty) and the markets the
    /// host grants it. Return it with the tokens it wants events for; each must be one of
    /// `markets`, or loading fails with the list of those that are not.
    fn init(
        config: &str,
        markets: &[MarketInfo],
        host: &mut dyn Host,
    ) -> Result<(Self, Vec<String>), String>;

    /// A book changed (a snapshot or deltas).
    fn on_book(&mut self, _host: &mut dyn Host, _update: &BookUpdate) {}
    /// A trade printed on a subscribed token.
    fn on_trade(&mut self, _host: &mut dyn Host, _trade: &Trade) {}
    /// A subscribed token's tick size changed (its book is re-sent after).
    fn on_tick_size(&mut self, _host: &mut dyn Host, _change: &TickChange) {}
    /// One of this strategy's orders changed: filled, partly filled, cancelled, rejected.
    fn on_order(&mut self, _host: &mut dyn Host, _update: &OrderUpdate) {}
    /// A timer set with [`Host::set_timer`] fired.
    fn on_timer(&mut self, _host: &mut dyn Host, _id: u64) {}
    /// The feed of a token went stale or came back.
    fn on_feed(&mut self, _host: &mut dyn Host, _status: &FeedStatus) {}

    /// Serialise the state a replacement instance needs (hot swap, restart after a trap).
    fn snapshot(&self) -> Vec<u8> {
        Vec::new()
    }
    /// Take over state written by [`Strategy::snapshot`] of `version` (maybe older).
    fn restore(&mut self, _version: &str, _data: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

/// Dispatch one event to the right handler.
pub fn dispatch<S: Strategy>(strategy: &mut S, host: &mut dyn Host, event: &Event) {
    match event {
        Event::Book(u) => strategy.on_book(host, u),
        Event::Trade(t) => strategy.on_trade(host, t),
        Event::TickSize(c) => strategy.on_tick_size(host, c),
        Event::Order(u) => strategy.on_order(host, u),
        Event::Timer(id) => strategy.on_timer(host, *id),
        Event::Feed(s) => strategy.on_feed(host, s),
    }
}

/// Glue used by [`export_strategy!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    use std::cell::RefCell;

    use super::*;
    pub use wit::exports::polybox::strategy::guest::Guest;

    pub fn init<S: Strategy>(
        cell: &RefCell<Option<S>>,
        config: &str,
        markets: &[MarketInfo],
    ) -> Result<Vec<String>, String> {
        let (s, tokens) = S::init(config, markets, &mut WasmHost)?;
        *cell.borrow_mut() = Some(s);
        Ok(tokens)
    }

    pub fn on_event<S: Strategy>(cell: &RefCell<Option<S>>, event: &Event) {
        if let Some(s) = cell.borrow_mut().as_mut() {
            dispatch(s, &mut WasmHost, event);
        }
    }

    pub fn snapshot<S: Strategy>(cell: &RefCell<Option<S>>, version: &str) -> State {
        State {
            version: version.to_owned(),
            data: cell.borrow().as_ref().map(S::snapshot).unwrap_or_default(),
        }
    }

    pub fn restore<S: Strategy>(cell: &RefCell<Option<S>>, state: &State) -> Result<(), String> {
        match cell.borrow_mut().as_mut() {
            Some(s) => s.restore(&state.version, &state.data),
            None => Err("restore called before init".to_owned()),
        }
    }
}

/// Export a [`Strategy`] as the component's implementation of the polybox world.
/// Use it once, in the strategy crate's `lib.rs`.
#[macro_export]
macro_rules! export_strategy {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __PolyboxGuest;

        ::std::thread_local! {
            static __POLYBOX_STRATEGY: ::std::cell::RefCell<Option<$ty>> =
                const { ::std::cell::RefCell::new(None) };
        }

        impl $crate::__private::Guest for __PolyboxGuest {
            fn describe() -> $crate::StrategyMeta {
                $crate::StrategyMeta {
                    name: env!("CARGO_PKG_NAME").to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                }
            }
            fn init(
                config: String,
                markets: Vec<$crate::MarketInfo>,
            ) -> Result<Vec<String>, String> {
                __POLYBOX_STRATEGY.with(|c| $crate::__private::init::<$ty>(c, &config, &markets))
            }
            fn on_event(event: $crate::Event) {
                __POLYBOX_STRATEGY.with(|c| $crate::__private::on_event::<$ty>(c, &event))
            }
            fn snapshot() -> $crate::State {
                __POLYBOX_STRATEGY
                    .with(|c| $crate::__private::snapshot::<$ty>(c, env!("CARGO_PKG_VERSION")))
            }
            fn restore(state: $crate::State) -> Result<(), String> {
                __POLYBOX_STRATEGY.with(|c| $crate::__private::restore::<$ty>(c, &state))
            }
        }

        // Native builds (unit tests with the harness) export nothing: the component's
        // export names are only valid in a WebAssembly module.
        #[cfg(target_arch = "wasm32")]
        $crate::wit::export!(__PolyboxGuest with_types_in $crate::wit);
    };
}
