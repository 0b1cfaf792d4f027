//! Market data: recorded sessions (read and replayed) and the seeded simulator that
//! writes them.

pub mod feed;
pub mod recording;
pub mod simulate;
