//! The one retry helper: exponential backoff with jitter, bounded by a wall-clock deadline.
//!
//! Every retry in kmedic goes through [`retry`], so the policy (which errors, how long, how
//! often) lives in one place and every retry is logged with its reason. It wraps the `backon`
//! crate and adds what backon does not do by itself: a deadline that counts the time spent in the
//! attempts, not only the sleeps between them.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// How to retry: delays grow from `initial_delay_ms` to `max_delay_ms`, with jitter, until
/// `deadline_ms` has passed since the first attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// First delay between attempts, in milliseconds.
    #[serde(default = "default_initial_delay_ms")]
    pub initial_delay_ms: u64,
    /// Upper bound on one delay, in milliseconds.
    #[serde(default = "default_max_delay_ms")]
    pub max_delay_ms: u64,
    /// Total wall-clock budget for all attempts and delays, in milliseconds. No attempt starts
    /// after it, and no delay runs past it.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
}

fn default_initial_delay_ms() -> u64 {
    100
}
fn default_max_delay_ms() -> u64 {
    2_000
}
fn default_deadline_ms() -> u64 {
    30_000
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_delay_ms: default_initial_delay_ms(),
            max_delay_ms: default_max_delay_ms(),
            deadline_ms: default_deadline_ms(),
        }
    }
}

impl RetryPolicy {
    /// The total budget as a [`Duration`].
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

/// Runs `op` until it succeeds, fails with an error `retriable` rejects, or the policy's deadline
/// passes; then returns the last result. `op` receives the time left before the deadline, so it
/// can bound its own attempt by it. `what` names the operation in the debug line of each retry; the caller logs the final
/// error (a retry is routine, so it must not fill an operator's log: one dead broker gave six
/// warn lines per round).
pub async fn retry<T, E, F, Fut>(
    what: &str,
    policy: &RetryPolicy,
    mut op: F,
    retriable: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let start = Instant::now();
    let deadline = policy.deadline();
    let remaining = move || deadline.saturating_sub(start.elapsed());
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(policy.initial_delay_ms))
        .with_max_delay(Duration::from_millis(
            policy.max_delay_ms.max(policy.initial_delay_ms),
        ))
        .with_jitter()
        .without_max_times();
    let mut attempt = 0u32;
    (|| {
        attempt += 1;
        op(remaining())
    })
    .retry(backoff)
    .sleep(tokio::time::sleep)
    // Retry only when the error is retriable and the next delay still fits in the budget.
    .when(|e: &E| retriable(e) && !remaining().is_zero())
    .adjust(|_e, delay| {
        let left = remaining();
        match delay {
            Some(d) if d < left => Some(d),
            // The next delay would end past the deadline: stop now, with the last error.
            _ => None,
        }
    })
    .notify(|e: &E, delay: Duration| {
        tracing::debug!(
            op = what,
            error = %e,
            delay_ms = delay.as_millis() as u64,
            remaining_ms = remaining().as_millis() as u64,
            "retrying after a retriable error"
        );
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[derive(Debug)]
    struct E(bool);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "retriable={}", self.0)
        }
    }

    fn policy(deadline_ms: u64) -> RetryPolicy {
        RetryPolicy {
            initial_delay_ms: 100,
            max_delay_ms: 1_000,
            deadline_ms,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_retriable_errors_until_success() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let out: Result<u32, E> = retry(
            "t",
            &policy(10_000),
            move |_| {
                let c = c.clone();
                async move {
                    let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                    if n < 3 {
                        Err(E(true))
                    } else {
                        Ok(n)
                    }
                }
            },
            |e| e.0,
        )
        .await;
        assert_eq!(out.unwrap(), 3);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn never_retries_non_retriable_errors() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let out: Result<(), E> = retry(
            "t",
            &policy(10_000),
            move |_| {
                c.fetch_add(1, Ordering::SeqCst);
                async { Err(E(false)) }
            },
            |e| e.0,
        )
        .await;
        assert!(out.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_the_deadline_with_the_last_error() {
        let start = Instant::now();
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let out: Result<(), E> = retry(
            "t",
            &policy(5_000),
            move |left| {
                c.fetch_add(1, Ordering::SeqCst);
                async move {
                    // Each attempt takes 700 ms of (paused) time, bounded by what is left.
                    tokio::time::sleep(left.min(Duration::from_millis(700))).await;
                    Err(E(true))
                }
            },
            |e| e.0,
        )
        .await;
        assert!(out.is_err());
        let took = start.elapsed();
        assert!(took <= Duration::from_millis(5_000), "took {took:?}");
        assert!(calls.load(Ordering::SeqCst) >= 3, "too few attempts");
    }
}
