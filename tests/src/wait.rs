//! Polling helpers: tests wait for convergence under a timeout, never with fixed sleeps.

use std::time::{Duration, Instant};

use crate::{Error, Result};

/// Polls `f` every 200 ms until it returns `Ok(true)` or `timeout` passes. An `Err` from `f` counts
/// as "not yet" and is kept; the timeout error names `what` and carries the last such error.
pub fn wait_until(
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> anyhow::Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        match f() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last = Some(format!("{e:#}")),
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: what.to_string(),
                timeout,
                last,
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A fresh topic name, `prefix-` and 12 random hex digits, so tests never share topics.
pub fn random_topic(prefix: &str) -> String {
    format!("{prefix}-{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_returns_once_true() {
        let mut n = 0;
        wait_until(Duration::from_secs(5), "third poll", || {
            n += 1;
            Ok(n >= 3)
        })
        .unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn wait_until_timeout_names_what_and_last_error() {
        let err = wait_until(Duration::from_millis(300), "the moon", || {
            anyhow::bail!("still night")
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("the moon"), "{msg}");
        assert!(msg.contains("still night"), "{msg}");
    }

    #[test]
    fn random_topics_differ() {
        let a = random_topic("t");
        assert!(a.starts_with("t-") && a.len() == 14, "{a}");
        assert_ne!(a, random_topic("t"));
    }
}
