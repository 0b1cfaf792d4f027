//! Pacing of exchange calls, one limiter for the whole host: a minimum spacing between any
//! two calls (audit: 100 ms), token buckets per endpoint class mirroring the exchange's
//! per-signer limits (orders and cancels counted separately; a batch takes all its tokens
//! or waits), pauses the exchange asked for (429/425 with `Retry-After`), and spacing that
//! widens when answers slow down and narrows again when they recover. Cancels and
//! heartbeats are urgent: while one waits, no order or read takes a slot before it.

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
    /// `POST /v1/heartbeats` (the exchange's dead-man switch).
    Heartbeat,
    /// Everything else.
    Read,
}

impl Class {
    /// Its name in metrics: `order`, `cancel`, `heartbeat` or `read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Order => "order",
            Class::Cancel => "cancel",
            Class::Heartbeat => "heartbeat",
            Class::Read => "read",
        }
    }

    /// Goes before waiting orders and reads: taking risk off and keeping the dead-man
    /// switch alive must not queue behind new risk.
    pub fn is_urgent(self) -> bool {
        matches!(self, Class::Cancel | Class::Heartbeat)
    }
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
    /// Heartbeats per second and burst.
    pub heartbeats: (f64, f64),
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
            heartbeats: (5.0, 5.0),
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
    buckets: [Bucket; 4],
    /// Urgent calls waiting for a slot.
    urgent_waiting: u32,
    /// Smoothed latency and its best level seen, for adaptive spacing.
    latency: Option<Duration>,
    baseline: Option<Duration>,
}

impl State {
    /// Take a slot for `class` now (zero), or say how long to wait for one.
    fn slot(&mut self, class: Class, cost: u32) -> Duration {
        let now = Instant::now();
        let bucket = &mut self.buckets[index(class)];
        bucket.refill(now);
        let cost = f64::from(cost).min(bucket.burst);
        let mut wait = bucket.wait_for(cost);
        if let Some(until) = self.paused_until {
            wait = wait.max(until.saturating_duration_since(now));
        }
        wait = wait.max(self.next_slot.saturating_duration_since(now));
        if wait.is_zero() {
            self.buckets[index(class)].tokens -= cost;
            self.next_slot = now + self.spacing;
            self.paused_until = None;
        }
        wait
    }
}

/// An urgent call waiting; the calls that stood aside go on when the last one is done
/// (or dropped).
struct Urgent<'a>(&'a RateLimiter);

impl<'a> Urgent<'a> {
    fn new(limiter: &'a RateLimiter) -> Urgent<'a> {
        limiter.state().urgent_waiting += 1;
        Urgent(limiter)
    }
}

impl Drop for Urgent<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state();
        s.urgent_waiting -= 1;
        if s.urgent_waiting == 0 {
            self.0.urgent_done.notify_waiters();
        }
    }
}

/// The host's one limiter.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<State>,
    /// Wakes the calls that stood aside for urgent ones.
    urgent_done: tokio::sync::Notify,
}

fn index(class: Class) -> usize {
    match class {
        Class::Order => 0,
        Class::Cancel => 1,
        Class::Read => 2,
        Class::Heartbeat => 3,
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
                    Bucket::new(limits.heartbeats, now),
                ],
                urgent_waiting: 0,
                latency: None,
                baseline: None,
            }),
            urgent_done: tokio::sync::Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wait until a call of `class` costing `cost` may go, and take its tokens. A cost
    /// above the burst is clamped to the burst (the exchange's own batches are ≤ 15).
    /// Urgent classes ([`Class::is_urgent`]) go before every waiting non-urgent call.
    pub async fn acquire(&self, class: Class, cost: u32) {
        let _urgent = class.is_urgent().then(|| Urgent::new(self));
        loop {
            let stood_aside = self.urgent_done.notified();
            tokio::pin!(stood_aside);
            let wait = {
                let mut s = self.state();
                if !class.is_urgent() && s.urgent_waiting > 0 {
                    // Registered under the lock, so the wake-up cannot be missed.
                    stood_aside.as_mut().enable();
                    None
                } else {
                    Some(s.slot(class, cost))
                }
            };
            match wait {
                None => stood_aside.await,
                Some(wait) if wait.is_zero() => return,
                Some(wait) => tokio::time::sleep(wait).await,
            }
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
            heartbeats: (10.0, 3.0),
            max_spacing: Duration::from_secs(1),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn cancels_and_heartbeats_go_before_waiting_orders() {
        let l = std::sync::Arc::new(limiter());
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let go = |class: Class, tag: &'static str| {
            let (l, order) = (std::sync::Arc::clone(&l), std::sync::Arc::clone(&order));
            tokio::spawn(async move {
                l.acquire(class, 1).await;
                order.lock().unwrap().push(tag);
            })
        };
        // Three orders queue (one goes at once, two wait for their 100 ms slots)...
        let mut tasks: Vec<_> = (0..3).map(|_| go(Class::Order, "order")).collect();
        tokio::task::yield_now().await;
        // ...then a cancel and a heartbeat arrive: they take the next slots.
        tasks.push(go(Class::Cancel, "cancel"));
        tasks.push(go(Class::Heartbeat, "heartbeat"));
        for t in tasks {
            t.await.unwrap();
        }
        let seen = order.lock().unwrap().clone();
        assert_eq!(seen.len(), 5);
        assert_eq!(seen[0], "order");
        assert!(
            seen[1..3].contains(&"cancel") && seen[1..3].contains(&"heartbeat"),
            "{seen:?}"
        );
        assert_eq!(seen[3..], ["order", "order"]);
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
