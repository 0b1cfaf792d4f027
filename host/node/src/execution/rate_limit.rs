//! Pacing of exchange calls, one limiter for the whole host: a minimum spacing between any
//! two calls (audit: 100 ms), token buckets per endpoint class mirroring the exchange's
//! per-signer limits (orders and cancels counted separately; a batch takes all its tokens
//! or waits), pauses the exchange asked for (429/425 with `Retry-After`), and spacing that
//! widens when answers slow down and narrows again when they recover.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// What a call does, for its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `POST /order`, `/orders` (cost: orders in the batch).
    Order,
    /// `DELETE /order`, `/orders`, `/cancel-all`, `/cancel-market-orders`.
    Cancel,
    /// Everything else.
    Read,
}

/// Rates and bursts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Minimum time between any two calls.
    pub min_spacing: Duration,
    /// Orders per second and burst (exchange Standard tier: 40/s, 60).
    pub orders: (f64, f64),
    /// Cancels per second and burst (Standard tier: 80/s, 120).
    pub cancels: (f64, f64),
    /// Reads per second and burst (`/data/*`: 500 per 10 s).
    pub reads: (f64, f64),
    /// Spacing never widens past this.
    pub max_spacing: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            min_spacing: Duration::from_millis(100),
            orders: (40.0, 60.0),
            cancels: (80.0, 120.0),
            reads: (50.0, 100.0),
            max_spacing: Duration::from_secs(2),
        }
    }
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new((rate, burst): (f64, f64), now: Instant) -> Bucket {
        Bucket {
            rate,
            burst,
            tokens: burst,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        self.at = now;
    }

    /// Time until `cost` tokens are there (zero: now).
    fn wait_for(&self, cost: f64) -> Duration {
        if self.tokens >= cost {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((cost - self.tokens) / self.rate)
        }
    }
}

#[derive(Debug)]
struct State {
    limits: Limits,
    spacing: Duration,
    next_slot: Instant,
    paused_until: Option<Instant>,
    buckets: [Bucket; 3],
    /// Smoothed latency and its best level seen, for adaptive spacing.
    latency: Option<Duration>,
    baseline: Option<Duration>,
}

/// The host's one limiter.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<State>,
}

fn index(class: Class) -> usize {
    match class {
        Class::Order => 0,
        Class::Cancel => 1,
        Class::Read => 2,
    }
}

impl RateLimiter {
    /// A limiter with these limits.
    pub fn new(limits: Limits) -> RateLimiter {
        let now = Instant::now();
        RateLimiter {
            state: Mutex::new(State {
                limits,
                spacing: limits.min_spacing,
                next_slot: now,
                paused_until: None,
                buckets: [
                    Bucket::new(limits.orders, now),
                    Bucket::new(limits.cancels, now),
                    Bucket::new(limits.reads, now),
                ],
                latency: None,
                baseline: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wait until a call of `class` costing `cost` may go, and take its tokens. A cost
    /// above the burst is clamped to the burst (the exchange's own batches are ≤ 15).
    pub async fn acquire(&self, class: Class, cost: u32) {
        loop {
            let wait = {
                let mut s = self.state();
                let now = Instant::now();
                let bucket = &mut s.buckets[index(class)];
                bucket.refill(now);
                let cost = f64::from(cost).min(bucket.burst);
                let mut wait = bucket.wait_for(cost);
                if let Some(until) = s.paused_until {
                    wait = wait.max(until.saturating_duration_since(now));
                }
                wait = wait.max(s.next_slot.saturating_duration_since(now));
                if wait.is_zero() {
                    s.buckets[index(class)].tokens -= cost;
                    s.next_slot = now + s.spacing;
                    s.paused_until = None;
                    return;
                }
                wait
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The exchange asked for a pause (429, 425, `Retry-After`): no call of any class
    /// goes before `d` has passed.
    pub fn pause(&self, d: Duration) {
        let mut s = self.state();
        let until = Instant::now() + d;
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
    }

    /// The exchange's remaining budget from `Poly-RateLimit-Remaining` for `class`: the
    /// bucket never holds more than that.
    pub fn remaining(&self, class: Class, remaining: u32) {
        let mut s = self.state();
        let b = &mut s.buckets[index(class)];
        b.tokens = b.tokens.min(f64::from(remaining));
    }

    /// Record how long an answer took: spacing doubles (up to `max_spacing`) while calls
    /// take more than three times the best smoothed latency seen, and halves back towards
    /// `min_spacing` once they are under twice it.
    pub fn observe(&self, latency: Duration) {
        let mut s = self.state();
        let smoothed = match s.latency {
            None => latency,
            Some(l) => (l * 7 + latency) / 8,
        };
        s.latency = Some(smoothed);
        let base = s.baseline.map_or(smoothed, |b| b.min(smoothed));
        s.baseline = Some(base);
        if smoothed > base * 3 {
            s.spacing = (s.spacing * 2).min(s.limits.max_spacing);
        } else if smoothed < base * 2 {
            s.spacing = (s.spacing / 2).max(s.limits.min_spacing);
        }
    }

    /// The current spacing between calls.
    pub fn spacing(&self) -> Duration {
        self.state().spacing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> RateLimiter {
        RateLimiter::new(Limits {
            min_spacing: Duration::from_millis(100),
            orders: (10.0, 3.0),
            cancels: (10.0, 3.0),
            reads: (10.0, 3.0),
            max_spacing: Duration::from_secs(1),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn calls_are_spaced_and_buckets_refill() {
        let l = limiter();
        let t0 = Instant::now();
        for _ in 0..5 {
            l.acquire(Class::Read, 1).await;
        }
        // Four gaps of at least 100 ms.
        assert!(
            t0.elapsed() >= Duration::from_millis(400),
            "{:?}",
            t0.elapsed()
        );
        // A batch of three orders waits for three tokens.
        let t1 = Instant::now();
        l.acquire(Class::Order, 3).await;
        l.acquire(Class::Order, 3).await;
        // The second batch needs 3 tokens at 10/s: 300 ms.
        assert!(
            t1.elapsed() >= Duration::from_millis(300),
            "{:?}",
            t1.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_class() {
        let l = limiter();
        l.pause(Duration::from_secs(2));
        let t0 = Instant::now();
        l.acquire(Class::Cancel, 1).await;
        assert!(t0.elapsed() >= Duration::from_secs(2));
    }

    #[test]
    fn spacing_widens_with_latency_and_recovers() {
        let l = limiter();
        for _ in 0..5 {
            l.observe(Duration::from_millis(10));
        }
        assert_eq!(l.spacing(), Duration::from_millis(100));
        for _ in 0..40 {
            l.observe(Duration::from_millis(200));
        }
        assert_eq!(l.spacing(), Duration::from_secs(1), "capped");
        for _ in 0..80 {
            l.observe(Duration::from_millis(10));
        }
        assert_eq!(l.spacing(), Duration::from_millis(100));
    }
}
