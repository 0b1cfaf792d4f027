//! The call discipline of every exchange request (audit: 5 s timeouts, 3 retries with
//! backoff): each attempt has a timeout; only failures that are safe to repeat are retried,
//! with exponential backoff and jitter; everything else fails at once.
//!
//! What is safe to repeat depends on the call: a read may be repeated after a timeout, an
//! order post may not (its outcome is unknown and is reconciled instead), so the caller
//! classifies each failure.

use std::future::Future;
use std::time::Duration;

use polybox_core::clock::{Clock, WallClock};

/// Timeouts, attempts and backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Delay before the second attempt.
    pub backoff_min: Duration,
    /// Longest delay.
    pub backoff_max: Duration,
}

impl Default for RetryPolicy {
    /// The audit's defaults: 3 attempts, 5 s each, backoff 0.5 s → 2 s.
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(2),
        }
    }
}

/// How one failed attempt is treated.
#[derive(Debug)]
pub enum Failure<E> {
    /// Safe to repeat (connection refused, 5xx, 429, a read that timed out).
    Retry(E),
    /// Not worth repeating (4xx, a malformed answer).
    Fatal(E),
}

/// Why a call failed in the end.
#[derive(Debug, thiserror::Error)]
pub enum CallError<E: std::fmt::Display> {
    /// The last attempt timed out.
    #[error("{what}: no answer within {timeout:?} ({attempts} attempts)")]
    Timeout {
        /// The call.
        what: String,
        /// Per-attempt timeout.
        timeout: Duration,
        /// Attempts made.
        attempts: u32,
    },
    /// The last attempt failed.
    #[error("{what}: {error} ({attempts} attempts)")]
    Failed {
        /// The call.
        what: String,
        /// The last error.
        error: E,
        /// Attempts made.
        attempts: u32,
    },
}

impl RetryPolicy {
    /// The delay before attempt `n + 1` (n ≥ 1): doubling from `backoff_min`, capped, with
    /// jitter in [0.5, 1.5).
    pub fn delay(&self, n: u32) -> Duration {
        let base = self
            .backoff_min
            .saturating_mul(1 << (n - 1).min(16))
            .min(self.backoff_max);
        let jitter = 0.5 + (WallClock.now_ms() % 1_000) as f64 / 1_000.0;
        base.mul_f64(jitter).min(self.backoff_max)
    }

    /// Run `attempt` under the policy. Timeouts are retried only when `timeouts_retry`
    /// (reads); other failures as `attempt` classifies them.
    pub async fn call<T, E, F, Fut>(
        &self,
        what: &str,
        timeouts_retry: bool,
        mut attempt: F,
    ) -> Result<T, CallError<E>>
    where
        E: std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure<E>>>,
    {
        let mut n = 0;
        loop {
            n += 1;
            let last = n >= self.attempts;
            match tokio::time::timeout(self.timeout, attempt()).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(Failure::Retry(error))) if !last => {
                    tracing::debug!(call = what, attempt = n, "retrying after: {error}");
                }
                Ok(Err(Failure::Retry(error) | Failure::Fatal(error))) => {
                    return Err(CallError::Failed {
                        what: what.to_owned(),
                        error,
                        attempts: n,
                    });
                }
                Err(_) if timeouts_retry && !last => {
                    tracing::debug!(call = what, attempt = n, "retrying after a timeout");
                }
                Err(_) => {
                    return Err(CallError::Timeout {
                        what: what.to_owned(),
                        timeout: self.timeout,
                        attempts: n,
                    });
                }
            }
            tokio::time::sleep(self.delay(n)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            timeout: Duration::from_millis(50),
            backoff_min: Duration::from_millis(1),
            backoff_max: Duration::from_millis(4),
        }
    }

    #[tokio::test]
    async fn retryable_failures_are_retried_up_to_the_limit() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = fast()
            .call("GET /x", true, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Failure::Retry("503"))
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let e = r.unwrap_err().to_string();
        assert!(
            e.contains("GET /x") && e.contains("503") && e.contains("3 attempts"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn fatal_failures_are_not_retried_and_success_stops() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = fast()
            .call("GET /x", true, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Failure::Fatal("404"))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let calls = AtomicU32::new(0);
        let r = fast()
            .call("GET /x", true, || async {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(Failure::Retry("reset"))
                } else {
                    Ok::<_, Failure<&str>>(7)
                }
            })
            .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn timeouts_are_retried_only_when_safe() {
        for (safe, expected) in [(true, 3), (false, 1)] {
            let calls = AtomicU32::new(0);
            let r: Result<(), CallError<&str>> = fast()
                .call("POST /order", safe, || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Ok(())
                })
                .await;
            assert!(matches!(r, Err(CallError::Timeout { .. })));
            assert_eq!(calls.load(Ordering::SeqCst), expected);
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy::default();
        for n in 1..6 {
            let d = p.delay(n);
            assert!(d <= p.backoff_max, "{d:?}");
        }
        assert!(
            p.delay(1) >= Duration::from_millis(250) && p.delay(1) < Duration::from_millis(750)
        );
    }
}
