//! Time, through one seam: replay time in replay, wall time live. The kernel reads time
//! only through a [`Clock`], so a recorded session replays the same way every time.

/// A source of UTC milliseconds since the Unix epoch.
pub trait Clock {
    /// Now, in ms.
    fn now_ms(&self) -> u64;
}

/// Time taken from the events being replayed: it only moves when the kernel says so.
#[derive(Debug, Default, Clone)]
pub struct ReplayClock {
    now: u64,
}

impl ReplayClock {
    /// Move to `ts`; time never goes backwards.
    pub fn advance_to(&mut self, ts: u64) {
        self.now = self.now.max(ts);
    }
}

impl Clock for ReplayClock {
    fn now_ms(&self) -> u64 {
        self.now
    }
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct WallClock;

impl Clock for WallClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the wall clock
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}
