//! What each broker's agent last said, and when the master last had evidence it was alive.
//!
//! **Freshness is the master's, not the agent's** (DESIGN.md rule 3). An agent's own timestamp
//! only orders that agent's records, and only within `ingest.max_clock_skew_secs`: a record
//! whose timestamp is further from the master's reference is refused by
//! [`super::ClusterModel::apply`] and changes nothing. Whether the agent is alive is read from
//! [`AgentState::heard_mono_ms`], on the master's monotonic clock ([`crate::clock::mono_ms`]):
//!
//! - a **live** record (the consumer has caught up) was heard when ingest handled it: its age is
//!   0 and `heard = now.mono`;
//! - a **replayed** record (read from the stats topic before the consumer caught up) is not
//!   evidence of life now. Its age is the master's wall clock minus the *older* of its Kafka
//!   timestamp and its agent timestamp (clamped at 0), and `heard = now.mono - age`. A replayed
//!   record therefore never counts as fresher than its own age, even when one of the two
//!   timestamps is ahead;
//! - state **restored from a checkpoint** gets the same treatment: mono time is not persisted,
//!   so on load `heard = now.mono - age`, with the age taken from the older of the record's
//!   agent timestamp and the checkpoint's write time. A restored agent is fresh only if its
//!   record is genuinely younger than the silence threshold by the wall clock.
//!
//! `heard` may be negative (before this process started); it only ever moves forward.

use kmedic_common::stats::{HostStats, Identity, ProcessState, ProcessStats};
use serde::{Deserialize, Serialize};

use crate::clock::Now;

/// What the latest record from one broker's agent said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    /// The agent's own sample time of the newest record applied (ms since the epoch). Orders
    /// one agent's records; never decides freshness (that is [`AgentState::heard_mono_ms`]).
    pub last_seen_ms: u64,
    /// The agent's sample time of the newest full-stats record, if any.
    pub last_full_ms: Option<u64>,
    /// When the newest evidence of life was produced, on the master's monotonic clock (ms; may
    /// be negative: before this process started). See the module docs. Not persisted.
    #[serde(skip)]
    pub heard_mono_ms: i64,
    /// The same for the newest full-stats record. Not persisted.
    #[serde(skip)]
    pub full_heard_mono_ms: Option<i64>,
    /// The agent's clock minus the master's reference at receive (ms), from the newest record:
    /// positive when the agent's clock is ahead.
    #[serde(default)]
    pub clock_skew_ms: i64,
    /// Another host that reported this broker id, when it was last heard (mono ms). Two hosts
    /// heard close together mean two agents claim one broker id. Not persisted.
    #[serde(skip)]
    pub other_host: Option<(String, i64)>,
    /// Hostname reported.
    pub hostname: String,
    /// Rack reported (from server.properties).
    pub rack: Option<String>,
    /// Availability zone reported.
    pub az: Option<String>,
    /// The agent's record sequence number (a reset means the agent restarted).
    pub seq: u64,
    /// The Kafka process's state.
    pub process: ProcessState,
    /// The ApiVersions probe: `None` not run, `Some(Ok(latency_us))`, or `Some(Err(error))`.
    pub probe: Option<Result<u64, String>>,
    /// Host receive rate, bytes per second.
    pub net_rx_bytes_per_sec: Option<u64>,
    /// Host transmit rate, bytes per second.
    pub net_tx_bytes_per_sec: Option<u64>,
}

impl AgentState {
    /// An agent never heard from (state filled in by the first record).
    pub fn unknown() -> Self {
        Self {
            last_seen_ms: 0,
            last_full_ms: None,
            heard_mono_ms: i64::MIN,
            full_heard_mono_ms: None,
            clock_skew_ms: 0,
            other_host: None,
            hostname: String::new(),
            rack: None,
            az: None,
            seq: 0,
            process: ProcessState::Unknown,
            probe: None,
            net_rx_bytes_per_sec: None,
            net_tx_bytes_per_sec: None,
        }
    }

    /// Milliseconds since the newest evidence of life, at master monotonic time `mono_ms`.
    pub fn silent_ms(&self, mono_ms: u64) -> u64 {
        since(self.heard_mono_ms, mono_ms)
    }

    /// Milliseconds since the newest full-stats record was produced, if any.
    pub fn full_silent_ms(&self, mono_ms: u64) -> Option<u64> {
        self.full_heard_mono_ms.map(|h| since(h, mono_ms))
    }

    /// Sets the monotonic times of state restored from a checkpoint written at
    /// `written_at_ms` (wall), read at `now`: see the module docs.
    pub fn restore_clocks(&mut self, now: Now, written_at_ms: u64) {
        fn heard(now: Now, written_at_ms: u64, agent_ts: u64) -> i64 {
            let age = now.wall_ms.saturating_sub(agent_ts.min(written_at_ms));
            mono_minus(now.mono_ms, age)
        }
        self.heard_mono_ms = heard(now, written_at_ms, self.last_seen_ms);
        self.full_heard_mono_ms = self.last_full_ms.map(|t| heard(now, written_at_ms, t));
        self.other_host = None;
    }
}

/// Milliseconds from `heard` (a monotonic time that may be negative) to `mono_ms`, 0 if
/// `heard` is later.
pub fn since(heard: i64, mono_ms: u64) -> u64 {
    let now = i64::try_from(mono_ms).unwrap_or(i64::MAX);
    u64::try_from(now.saturating_sub(heard)).unwrap_or(0)
}

fn mono_minus(mono_ms: u64, age_ms: u64) -> i64 {
    let m = i64::try_from(mono_ms).unwrap_or(i64::MAX);
    m.saturating_sub(i64::try_from(age_ms).unwrap_or(i64::MAX))
}

/// How the master came by one record: the evidence it gives that its agent was alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// When the record was produced, on the master's monotonic clock: receive time minus the
    /// record's age (see the module docs).
    pub heard_mono_ms: i64,
    /// What the agent's timestamp is compared with for skew (wall ms): the master's wall clock
    /// at receive for a live record, the record's Kafka timestamp for a replayed one.
    pub reference_wall_ms: u64,
}

impl Received {
    /// A record handled live (the consumer is caught up): heard now.
    pub fn live(now: Now) -> Self {
        Self {
            heard_mono_ms: mono_minus(now.mono_ms, 0),
            reference_wall_ms: now.wall_ms,
        }
    }

    /// A record replayed from the stats topic: heard as long ago as the older of its Kafka
    /// timestamp and its agent timestamp says (never fresher than its own age). Its skew is
    /// measured against the Kafka timestamp; without one (it should not happen with Kafka's
    /// record format v2), against the agent's own stamp capped at the master's clock, so a
    /// stamp in the future is still refused while an old one is not mistaken for skew.
    pub fn replayed(now: Now, kafka_ts_ms: Option<u64>, agent_ts_ms: u64) -> Self {
        let produced = kafka_ts_ms.map_or(agent_ts_ms, |k| k.min(agent_ts_ms));
        Self {
            heard_mono_ms: mono_minus(now.mono_ms, now.wall_ms.saturating_sub(produced)),
            reference_wall_ms: kafka_ts_ms.unwrap_or(agent_ts_ms.min(now.wall_ms)),
        }
    }

    /// The agent's timestamp minus the reference (ms), saturating.
    pub fn skew_ms(&self, agent_ts_ms: u64) -> i64 {
        let a = i128::from(agent_ts_ms) - i128::from(self.reference_wall_ms);
        a.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

/// The parts of a record every kind carries.
pub(super) struct Header<'a> {
    pub identity: &'a Identity,
    pub ts_ms: u64,
    pub seq: u64,
    pub process: &'a ProcessStats,
    pub host: &'a HostStats,
}

impl AgentState {
    /// Applies one accepted record's header. Returns `false` (content unchanged) when the
    /// record is older, by the agent's clock, than the newest applied; liveness and the host
    /// bookkeeping are updated either way, since an accepted record is evidence of life.
    pub(super) fn apply(&mut self, h: &Header<'_>, rx: Received) -> bool {
        let newer = h.ts_ms >= self.last_seen_ms;
        let host = &h.identity.hostname;
        if !self.hostname.is_empty() && *host != self.hostname {
            self.other_host = Some(if newer {
                (std::mem::take(&mut self.hostname), self.heard_mono_ms)
            } else {
                (host.clone(), rx.heard_mono_ms)
            });
        }
        self.heard_mono_ms = self.heard_mono_ms.max(rx.heard_mono_ms);
        if !newer {
            return false;
        }
        self.last_seen_ms = h.ts_ms;
        self.clock_skew_ms = rx.skew_ms(h.ts_ms);
        self.hostname.clone_from(host);
        self.rack.clone_from(&h.identity.rack);
        self.az.clone_from(&h.identity.az);
        self.seq = h.seq;
        self.process = h.process.state;
        self.probe = match &h.process.probe {
            kmedic_common::stats::Probe::Ok { latency_us } => Some(Ok(*latency_us)),
            kmedic_common::stats::Probe::Failed { error } => Some(Err(error.clone())),
            kmedic_common::stats::Probe::NotRun => None,
        };
        self.net_rx_bytes_per_sec = h.host.net_rx_bytes_per_sec;
        self.net_tx_bytes_per_sec = h.host.net_tx_bytes_per_sec;
        true
    }
}
