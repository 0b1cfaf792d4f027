//! Talking to the exchange: the call discipline every request goes through.

pub mod exchange;
pub mod executor;
pub mod rate_limit;
pub mod retry;
pub mod session;
pub mod signer;
pub mod user_feed;
