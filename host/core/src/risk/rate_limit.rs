//! Per-strategy intent rate limit: a token bucket refilled by the kernel clock, so a replay
//! throttles exactly as live does.

/// A token bucket counted in thousandths of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBucket {
    milli: u64,
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket at time `now_ms`.
    pub fn full(burst: u32, now_ms: u64) -> Self {
        TokenBucket {
            milli: u64::from(burst) * 1_000,
            last_ms: now_ms,
        }
    }

    /// Refill at `per_sec` up to `burst`, then take one token if there is one.
    pub fn try_take(&mut self, now_ms: u64, per_sec: u32, burst: u32) -> bool {
        let elapsed = now_ms.saturating_sub(self.last_ms);
        self.last_ms = self.last_ms.max(now_ms);
        // per_sec tokens per 1000 ms = per_sec milli-tokens per ms.
        self.milli =
            (self.milli + elapsed.saturating_mul(u64::from(per_sec))).min(u64::from(burst) * 1_000);
        if self.milli >= 1_000 {
            self.milli -= 1_000;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let mut b = TokenBucket::full(40, 0);
        assert_eq!((0..100).filter(|_| b.try_take(0, 20, 40)).count(), 40);
        assert!(!b.try_take(49, 20, 40));
        assert!(b.try_take(50, 20, 40)); // 50 ms at 20/s = 1 token
        assert_eq!(
            (0..100).filter(|_| b.try_take(10_000, 20, 40)).count(),
            40,
            "capped at burst"
        );
    }
}
