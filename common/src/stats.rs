//! The stats schema: what an agent publishes about its broker, and what the master reads.
//!
//! These types are the payloads inside the codec's versioned envelope (see [`crate::codec`]).
//! They are plain serde structs, so the codec can change without touching them. Changing a field
//! here changes the wire format: bump [`crate::codec::SCHEMA_VERSION`] and add a golden fixture.
//!
//! Every figure that can be measured or estimated says which, and every collector that failed is
//! named in `missing`, so the master never mistakes "no data" for "zero".
//!
//! # Per-replica traffic figures (the one definition; agent, model and planner follow it)
//!
//! - [`ReplicaStats::bytes_in_per_sec`]: bytes appended to this replica's log per second. Every
//!   in-sync replica of a partition appends the same bytes (the leader from producers, each
//!   follower by fetching them), so this is the partition's producer rate.
//! - [`ReplicaStats::bytes_out_per_sec`] of a **leader**: everything the leader sends for the
//!   partition, i.e. replication to its followers **plus** consumer fetches:
//!   `bytes_in x (RF - 1) + consumer bytes`. Estimated as `bytes_in x ((RF - 1) + fan-out)`, or
//!   measured (the broker's consumer counter plus `bytes_in x (RF - 1)`); see
//!   [`FullStats::bytes_out_provenance`].
//! - [`ReplicaStats::bytes_out_per_sec`] of a **follower**: 0 (consumers read from leaders), or
//!   whatever the agent sends; the master ignores it.
//!
//! The master keeps the leader's figure as the partition's bytes out. The planner's snapshot
//! splits it back into its two parts, because they move differently: the consumer part
//! (`bytes_out - bytes_in x (RF - 1)`) moves with leadership, and the replication part depends
//! on the number of followers. It is therefore counted once, never added on top again.

use serde::{Deserialize, Serialize};

/// A record on the stats topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StatsRecord {
    /// Small and frequent (about every 10 s): identity, process and host summary.
    Heartbeat(Heartbeat),
    /// Large and rarer (about every 60 s): everything in a heartbeat plus per-replica figures.
    Full(FullStats),
}

impl StatsRecord {
    /// The identity stamped on either kind of record.
    pub fn identity(&self) -> &Identity {
        match self {
            StatsRecord::Heartbeat(h) => &h.identity,
            StatsRecord::Full(f) => &f.identity,
        }
    }

    /// When the sample was taken, in milliseconds since the Unix epoch.
    pub fn timestamp_ms(&self) -> u64 {
        match self {
            StatsRecord::Heartbeat(h) => h.timestamp_ms,
            StatsRecord::Full(f) => f.timestamp_ms,
        }
    }
}

/// Who sent a record. The master checks every name and id here against cluster metadata before
/// using it (DESIGN.md rule 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `cluster.id` from the broker's meta.properties.
    pub cluster_id: String,
    /// `node.id` / `broker.id` from server.properties.
    pub broker_id: i32,
    /// `broker.rack` from server.properties, if set.
    pub rack: Option<String>,
    /// The host's name as the agent sees it.
    pub hostname: String,
    /// Availability zone, and where it came from.
    pub az: Option<String>,
    /// Where `az` came from.
    pub az_source: AzSource,
    /// Cloud instance type (for example `m5.2xlarge`), when known.
    pub instance_type: Option<String>,
    /// Cloud instance id, when known.
    pub instance_id: Option<String>,
    /// The agent's version (`CARGO_PKG_VERSION`).
    pub agent_version: String,
}

impl Identity {
    /// Broker `broker_id` of `cluster_id` on `hostname`, nothing else known: no rack, AZ or
    /// instance, and no agent version (fixtures; set the rest with struct update syntax).
    pub fn bare(
        cluster_id: impl Into<String>,
        broker_id: i32,
        hostname: impl Into<String>,
    ) -> Self {
        Identity {
            cluster_id: cluster_id.into(),
            broker_id,
            rack: None,
            hostname: hostname.into(),
            az: None,
            az_source: AzSource::Unknown,
            instance_type: None,
            instance_id: None,
            agent_version: String::new(),
        }
    }
}

/// Where the availability zone was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AzSource {
    /// EC2 instance metadata (IMDSv2).
    Imds,
    /// `broker.rack` from server.properties.
    BrokerRack,
    /// Not known.
    Unknown,
}

/// One collector of the agent. Used to say which figures are missing from a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Collector {
    /// Per-replica log sizes and rates from the log dirs.
    Replicas,
    /// Role, ISR and reassignment state from cluster metadata.
    Metadata,
    /// Host network counters.
    Network,
    /// Host CPU and load.
    Cpu,
    /// Host memory.
    Memory,
    /// Disk space and IO per log dir.
    Disk,
    /// The Kafka process.
    Process,
    /// The ApiVersions round trip to the local broker.
    Probe,
    /// Cloud identity (IMDSv2).
    Cloud,
    /// Per-partition bytes out (JMX exporter / Jolokia, or the estimate).
    BytesOut,
}

/// Whether a figure was measured or estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Provenance {
    /// Read directly (disk, /proc, a JMX exporter).
    Measured,
    /// Derived from other figures; the agent's docs say how.
    Estimated,
}

/// A heartbeat: cheap to take and to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Who sent it.
    pub identity: Identity,
    /// When the sample was taken, in ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// Monotonic per agent process; a reset means the agent restarted.
    pub seq: u64,
    /// The Kafka process on this host.
    pub process: ProcessStats,
    /// Host summary.
    pub host: HostStats,
    /// Collectors that failed for this record.
    pub missing: Vec<Collector>,
}

/// Full stats: a heartbeat's content plus every replica on the broker's disks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FullStats {
    /// Who sent it.
    pub identity: Identity,
    /// When the sample was taken, in ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// Monotonic per agent process.
    pub seq: u64,
    /// Milliseconds since the previous full sample that rates were computed over (0 if none).
    pub interval_ms: u64,
    /// The Kafka process on this host.
    pub process: ProcessStats,
    /// Host figures.
    pub host: HostStats,
    /// Each log dir's space and IO.
    pub log_dirs: Vec<LogDirStats>,
    /// Topic names, referenced by index from `replicas` so a name is sent once per record.
    pub topics: Vec<String>,
    /// One entry per partition directory found in the log dirs.
    pub replicas: Vec<ReplicaStats>,
    /// How `bytes_out_per_sec` in `replicas` was obtained.
    pub bytes_out_provenance: Provenance,
    /// Collectors that failed for this record.
    pub missing: Vec<Collector>,
}

/// The Kafka process as seen from the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessStats {
    /// Running, stopped (SIGSTOP), gone, or not determined.
    pub state: ProcessState,
    /// Its pid, when found.
    pub pid: Option<u32>,
    /// CPU use in percent of one core since the previous sample.
    pub cpu_percent: Option<f32>,
    /// Resident set size in bytes.
    pub rss_bytes: Option<u64>,
    /// Thread count.
    pub threads: Option<u32>,
    /// Open file descriptors.
    pub open_fds: Option<u32>,
    /// Seconds since the process started.
    pub uptime_secs: Option<u64>,
    /// The timed ApiVersions round trip to the local broker.
    pub probe: Probe,
}

impl ProcessStats {
    /// A process in `state` with no other figure known (not found, not sampled, or a fixture);
    /// the probe is [`Probe::NotRun`].
    pub fn bare(state: ProcessState) -> Self {
        ProcessStats {
            state,
            pid: None,
            cpu_percent: None,
            rss_bytes: None,
            threads: None,
            open_fds: None,
            uptime_secs: None,
            probe: Probe::NotRun,
        }
    }
}

/// The Kafka process's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessState {
    /// Found and running (or sleeping).
    Running,
    /// Found but stopped (state `T`, as after SIGSTOP): a hung broker.
    Stopped,
    /// Not found: no such process.
    Gone,
    /// The process collector failed.
    Unknown,
}

/// The outcome of the ApiVersions round trip to the local broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Probe {
    /// The broker answered.
    Ok {
        /// Round-trip time in microseconds.
        latency_us: u64,
    },
    /// The broker did not answer correctly.
    Failed {
        /// What went wrong (timeout, refused, error code).
        error: String,
    },
    /// The probe was not run (disabled, or no listener known).
    NotRun,
}

/// Host figures.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HostStats {
    /// Whole-host CPU use in percent of all cores.
    pub cpu_percent: Option<f32>,
    /// Number of cores.
    pub cores: Option<u32>,
    /// Load averages over 1, 5 and 15 minutes.
    pub load_avg: Option<[f32; 3]>,
    /// Total memory in bytes.
    pub mem_total_bytes: Option<u64>,
    /// Available memory in bytes.
    pub mem_available_bytes: Option<u64>,
    /// Per-interface network rates (loopback excluded unless it is the primary interface).
    pub interfaces: Vec<InterfaceStats>,
    /// The configured primary interface, if any.
    pub primary_interface: Option<String>,
    /// Sum over `interfaces` of received bytes per second.
    pub net_rx_bytes_per_sec: Option<u64>,
    /// Sum over `interfaces` of transmitted bytes per second.
    pub net_tx_bytes_per_sec: Option<u64>,
}

/// One network interface's rates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceStats {
    /// Interface name (for example `eth0`).
    pub name: String,
    /// Received bytes per second since the previous sample.
    pub rx_bytes_per_sec: u64,
    /// Transmitted bytes per second since the previous sample.
    pub tx_bytes_per_sec: u64,
}

/// One log dir's space and IO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogDirStats {
    /// The log dir's path, as in server.properties.
    pub path: String,
    /// The block device behind it, when found.
    pub device: Option<String>,
    /// Filesystem size in bytes.
    pub total_bytes: Option<u64>,
    /// Bytes available to the broker.
    pub available_bytes: Option<u64>,
    /// Device read bytes per second.
    pub read_bytes_per_sec: Option<u64>,
    /// Device write bytes per second.
    pub write_bytes_per_sec: Option<u64>,
    /// Device busy time in per-mille of the interval (1000 = saturated).
    pub io_util_permille: Option<u32>,
}

/// One replica (a partition directory) on this broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaStats {
    /// Index into [`FullStats::topics`].
    pub topic: u32,
    /// Partition number.
    pub partition: i32,
    /// Index into [`FullStats::log_dirs`].
    pub log_dir: u16,
    /// Bytes on disk (sum of segment files).
    pub size_bytes: u64,
    /// Number of log segments.
    pub segments: u32,
    /// Bytes appended per second since the previous full sample, measured from log growth on disk;
    /// `None` on the first sample.
    pub bytes_in_per_sec: Option<u64>,
    /// Bytes sent per second for this partition: on a leader, replication to followers plus
    /// consumer fetches; on a follower, 0 (see the module docs, "Per-replica traffic figures",
    /// and [`FullStats::bytes_out_provenance`]).
    pub bytes_out_per_sec: Option<u64>,
    /// Leader or follower, from cluster metadata.
    pub role: ReplicaRole,
    /// Whether this replica is in the ISR; `None` if metadata was unavailable.
    pub in_sync: Option<bool>,
    /// Whether the partition is under-replicated; `None` if metadata was unavailable.
    pub under_replicated: Option<bool>,
    /// Whether the partition is being reassigned; `None` if that was not known.
    pub reassigning: Option<bool>,
    /// A `-future` directory: an intra-broker move in progress.
    pub future: bool,
}

/// The replica's role in its partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicaRole {
    /// This broker leads the partition.
    Leader,
    /// This broker follows.
    Follower,
    /// The broker is not in the partition's replica set (a leftover or a move in progress).
    NotAssigned,
    /// Metadata was unavailable.
    Unknown,
}
