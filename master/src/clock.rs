//! The master's two clocks.
//!
//! - [`mono_ms`]: milliseconds on the master's own monotonic clock ([`MONO_START_MS`] when this
//!   process first asked, so instants up to ~31 years before the start, such as a death
//!   restored from the action log, are representable rather than clamped to the start). Never
//!   steps: an NTP correction cannot make a 20-second restart look like minutes.
//!   Every duration that drives a decision (agent silence, grace periods, cool-downs) is measured
//!   on it (DESIGN.md rules 3 and 5). It means nothing across a restart and is never persisted.
//! - [`wall_ms`]: milliseconds since the Unix epoch. Used only to talk to the outside world
//!   (stats timestamps, offsets-for-times, checkpoint watermarks, log lines), never to time a
//!   decision.
//!
//! Both are read once per round by the caller and passed down as plain numbers, so tests inject
//! any time they like, including clock steps.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn anchor() -> Instant {
    static ANCHOR: OnceLock<Instant> = OnceLock::new();
    *ANCHOR.get_or_init(Instant::now)
}

/// What [`mono_ms`] reads when first called: 10^12 ms (~31.7 years). Not 0: a time before the
/// start (`now.mono_ms - age`, e.g. a broker's death read back from the action log) must stay
/// that far in the past; from 0 it saturated to the start, and a restarted master waited the
/// whole replace grace again (seen live). No user treats 0 as "unset".
pub const MONO_START_MS: u64 = 1_000_000_000_000;

/// Milliseconds on the master's monotonic clock. Reads [`MONO_START_MS`] when first called.
pub fn mono_ms() -> u64 {
    u64::try_from(anchor().elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(MONO_START_MS)
}

/// Milliseconds since the Unix epoch (0 if the system clock is before 1970).
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Both clocks, read together once per round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Now {
    /// [`wall_ms`].
    pub wall_ms: u64,
    /// [`mono_ms`].
    pub mono_ms: u64,
}

impl Now {
    /// Reads both clocks.
    pub fn read() -> Self {
        Self {
            mono_ms: mono_ms(),
            wall_ms: wall_ms(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_never_goes_back() {
        let a = mono_ms();
        let b = mono_ms();
        assert!(b >= a);
    }

    /// Failed before (the clock started at 0): an instant an hour before the start was not
    /// representable.
    #[test]
    fn mono_holds_instants_before_the_start() {
        let hour_ago = mono_ms().checked_sub(3_600_000);
        assert!(hour_ago.is_some_and(|t| t >= MONO_START_MS - 3_600_000));
    }

    #[test]
    fn wall_is_after_2020() {
        assert!(wall_ms() > 1_577_836_800_000);
    }
}
