//! What a strategy can ask of the host.

use crate::wit::polybox::strategy::host as imports;
use crate::{BookDepth, Intent, LogLevel, OpenOrder, OrderId, Position, Rejection};

/// The host's services, as a strategy sees them. In a component this is [`WasmHost`];
/// in native tests, [`crate::testing::TestHost`].
pub trait Host {
    /// Submit an intent; the risk gate answers at once with the order id or a refusal.
    fn submit(&mut self, intent: Intent) -> Result<OrderId, Rejection>;
    /// Cancel one of this strategy's open orders.
    fn cancel(&mut self, id: OrderId) -> Result<(), Rejection>;
    /// Cancel all of this strategy's open orders, on one token or all; returns how many.
    fn cancel_all(&mut self, token: Option<&str>) -> u32;
    /// The current book of a granted token, at most `depth` levels a side, best first.
    fn book(&mut self, token: &str, depth: u32) -> Option<BookDepth>;
    /// This strategy's positions.
    fn positions(&mut self) -> Vec<Position>;
    /// This strategy's open orders.
    fn open_orders(&mut self) -> Vec<OpenOrder>;
    /// Host time, ms since the Unix epoch (recorded time in replay).
    fn now(&mut self) -> u64;
    /// Log through the host, tagged with the strategy's name.
    fn log(&mut self, level: LogLevel, message: &str);
    /// Ask for a timer event at or after `at` (ms); replaces a timer with the same id.
    fn set_timer(&mut self, id: u64, at: u64);
    /// Forget a timer.
    fn cancel_timer(&mut self, id: u64);
}

/// The host as seen from inside a WebAssembly component: calls the imported functions.
#[derive(Debug, Default, Clone, Copy)]
pub struct WasmHost;

impl Host for WasmHost {
    fn submit(&mut self, intent: Intent) -> Result<OrderId, Rejection> {
        imports::submit(&intent)
    }
    fn cancel(&mut self, id: OrderId) -> Result<(), Rejection> {
        imports::cancel(id)
    }
    fn cancel_all(&mut self, token: Option<&str>) -> u32 {
        imports::cancel_all(token)
    }
    fn book(&mut self, token: &str, depth: u32) -> Option<BookDepth> {
        imports::book(token, depth)
    }
    fn positions(&mut self) -> Vec<Position> {
        imports::positions()
    }
    fn open_orders(&mut self) -> Vec<OpenOrder> {
        imports::open_orders()
    }
    fn now(&mut self) -> u64 {
        imports::now()
    }
    fn log(&mut self, level: LogLevel, message: &str) {
        imports::log(level, message)
    }
    fn set_timer(&mut self, id: u64, at: u64) {
        imports::set_timer(id, at)
    }
    fn cancel_timer(&mut self, id: u64) {
        imports::cancel_timer(id)
    }
}
