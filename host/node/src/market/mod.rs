//! Market data: the live market-channel feed, the recorder, recorded sessions (read and
//! replayed) and the seeded simulator that writes them.

pub mod feed;
pub mod recorder;
pub mod recording;
pub mod rest;
pub mod simulate;
