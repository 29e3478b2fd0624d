//! The [`Sampler`]: runs every collector and assembles heartbeat and full samples.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kmedic_common::admin::AdminClient;

use kmedic_common::stats::{
    Collector, HostStats, LogDirStats, Probe, ProcessState, ProcessStats, Provenance, ReplicaStats,
};

use super::bytes_out::BytesOutCollector;
use super::cpu::CpuCollector;
use super::disk::DiskCollector;
use super::memory::MemoryCollector;
use super::network::NetworkCollector;
use super::process::{Finder, ProcessCollector};
use super::replicas::ReplicaCollector;
use super::{cloud, metadata, probe, CloudIdentity, CollectSettings, Error, Result};

/// What a heartbeat carries: the process and a host summary.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSample {
    /// The Kafka process, with the ApiVersions probe.
    pub process: ProcessStats,
    /// Host CPU, memory and network.
    pub host: HostStats,
    /// Collectors that failed for this sample.
    pub missing: Vec<Collector>,
}

/// What a full stats record carries besides identity, time and sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct FullSample {
    /// The Kafka process, with the ApiVersions probe.
    pub process: ProcessStats,
    /// Host figures.
    pub host: HostStats,
    /// Each log dir's space and IO, in the order the log dirs were given.
    pub log_dirs: Vec<LogDirStats>,
    /// Topic names that `replicas` index into.
    pub topics: Vec<String>,
    /// One entry per partition directory.
    pub replicas: Vec<ReplicaStats>,
    /// Whether `bytes_out_per_sec` is measured (JMX exporter) or estimated.
    pub bytes_out_provenance: Provenance,
    /// Milliseconds the per-replica rates were computed over (0 on the first full sample).
    pub interval_ms: u64,
    /// Collectors that failed for this sample. `BytesOut` with an `Estimated` provenance means
    /// the JMX exporter scrape failed and the estimate was sent instead; `Metadata` means roles
    /// are `Unknown` (and bytes out are `None`).
    pub missing: Vec<Collector>,
}

/// Runs the collectors. Keeps each collector's previous counters, so rates are over the time
/// since the previous call.
pub struct Sampler {
    settings: CollectSettings,
    log_dirs: Vec<PathBuf>,
    broker_id: i32,
    local_broker: Option<String>,
    admin: Option<Arc<AdminClient>>,
    cpu: CpuCollector,
    memory: MemoryCollector,
    network: NetworkCollector,
    process: ProcessCollector,
    disk: DiskCollector,
    replicas: ReplicaCollector,
    bytes_out: BytesOutCollector,
    boot_time_secs: Option<u64>,
    errors: ErrorLog,
}

impl Sampler {
    /// A sampler for broker `broker_id` with these log dirs. `local_broker` is the `host:port` of
    /// the broker's own listener, for the ApiVersions probe (`None`: the probe is not run).
    pub fn new(
        settings: CollectSettings,
        log_dirs: Vec<PathBuf>,
        broker_id: i32,
        local_broker: Option<String>,
    ) -> Self {
        let proc_root = settings.proc_root.clone();
        let finder = match &settings.kafka_pid_file {
            Some(path) => Finder::PidFile(path.clone()),
            None => Finder::cmdline(&settings.kafka_cmdline_match, None),
        };
        Self {
            cpu: CpuCollector::new(&proc_root),
            memory: MemoryCollector::new(&proc_root),
            network: NetworkCollector::new(&proc_root, settings.primary_interface.clone()),
            process: ProcessCollector::new(&proc_root, finder),
            disk: DiskCollector::new(&proc_root, &settings.sys_root, log_dirs.clone()),
            replicas: ReplicaCollector::new(log_dirs.clone()),
            bytes_out: BytesOutCollector::new(&settings),
            errors: ErrorLog::new(Duration::from_secs(settings.error_log_interval_secs)),
            boot_time_secs: None,
            admin: None,
            settings,
            log_dirs,
            broker_id,
            local_broker,
        }
    }

    /// Gives the sampler the admin client: replica roles come from its Metadata and
    /// ListPartitionReassignments, and the ApiVersions probe uses its transport (TLS if set).
    /// Until it is set, roles are `Unknown` and `Metadata` is listed as missing.
    pub fn set_admin(&mut self, admin: Arc<AdminClient>) {
        self.admin = Some(admin);
    }

    /// Tells the process collector the broker's server.properties path. Unless a pid file is
    /// configured, the Kafka process must then have this path on its command line, which picks
    /// the right broker when several run on one host.
    pub fn set_server_properties(&mut self, path: &Path) {
        if self.settings.kafka_pid_file.is_none() {
            self.process.set_finder(Finder::cmdline(
                &self.settings.kafka_cmdline_match,
                Some(path),
            ));
        }
    }

    /// The log dirs this sampler scans.
    pub fn log_dirs(&self) -> &[PathBuf] {
        &self.log_dirs
    }

    /// Takes a heartbeat sample: process (with probe) and host summary.
    pub async fn heartbeat(&mut self) -> HostSample {
        let mut missing = Vec::new();
        let host = self.host(&mut missing);
        let process = self.process(&mut missing).await;
        missing.sort_unstable();
        HostSample {
            process,
            host,
            missing,
        }
    }

    /// Takes a full sample: everything in a heartbeat plus log dirs and replicas.
    pub async fn full(&mut self) -> FullSample {
        let mut missing = Vec::new();
        let host = self.host(&mut missing);
        let process = self.process(&mut missing).await;

        let (log_dirs, disk_error) = self.disk.sample();
        if let Some(e) = disk_error {
            self.failed(Collector::Disk, &e, &mut missing);
        }

        let scan = self.replicas.sample();
        if let Some(e) = &scan.error {
            self.failed(Collector::Replicas, e, &mut missing);
        }
        let mut replicas = scan.replicas;
        let topics = scan.topics;

        let view = match &self.admin {
            Some(admin) => {
                let timeout = Duration::from_millis(self.settings.metadata_timeout_ms);
                let (view, error) = metadata::fetch_and_apply(
                    admin,
                    self.broker_id,
                    &topics,
                    &mut replicas,
                    timeout,
                )
                .await;
                if let Some(e) = error {
                    self.failed(Collector::Metadata, &e, &mut missing);
                }
                view
            }
            None => {
                let e = Error::Unavailable("no admin client configured".into());
                self.failed(Collector::Metadata, &e, &mut missing);
                None
            }
        };

        let (bytes_out_provenance, bytes_out_error) = self
            .bytes_out
            .fill(&topics, &mut replicas, view.as_ref())
            .await;
        if let Some(e) = bytes_out_error {
            self.failed(Collector::BytesOut, &e, &mut missing);
        }
        missing.sort_unstable();
        missing.dedup();
        FullSample {
            process,
            host,
            log_dirs,
            topics,
            replicas,
            bytes_out_provenance,
            interval_ms: scan.interval_ms,
            missing,
        }
    }

    /// The cloud identity from EC2 IMDSv2; an error when it is disabled or did not answer, in
    /// which case the caller falls back to `broker.rack`.
    pub async fn cloud(&self) -> Result<CloudIdentity> {
        cloud::fetch(&self.settings.imds).await
    }

    fn host(&mut self, missing: &mut Vec<Collector>) -> HostStats {
        let mut host = HostStats {
            primary_interface: self.settings.primary_interface.clone(),
            ..HostStats::default()
        };
        match self.cpu.sample() {
            Ok(cpu) => {
                host.cpu_percent = cpu.cpu_percent;
                host.cores = Some(cpu.cores);
                host.load_avg = Some(cpu.load_avg);
                self.boot_time_secs = Some(cpu.boot_time_secs);
            }
            Err(e) => self.failed(Collector::Cpu, &e, missing),
        }
        match self.memory.sample() {
            Ok((total, available)) => {
                host.mem_total_bytes = Some(total);
                host.mem_available_bytes = Some(available);
            }
            Err(e) => self.failed(Collector::Memory, &e, missing),
        }
        match self.network.sample() {
            Ok(net) => {
                host.interfaces = net.interfaces;
                host.net_rx_bytes_per_sec = net.rx_bytes_per_sec;
                host.net_tx_bytes_per_sec = net.tx_bytes_per_sec;
            }
            Err(e) => self.failed(Collector::Network, &e, missing),
        }
        host
    }

    async fn process(&mut self, missing: &mut Vec<Collector>) -> ProcessStats {
        // The probe runs first: when it fails, the process state read right after it explains
        // why (stopped or gone), rather than one read before the probe's wait.
        let probe = match &self.local_broker {
            Some(addr) => {
                let timeout = Duration::from_millis(self.settings.probe_timeout_ms);
                let settings = self.admin.as_ref().map(|a| a.settings());
                probe::probe(addr, settings, timeout).await
            }
            None => Probe::NotRun,
        };
        let mut stats = match self.process.sample(self.boot_time_secs) {
            Ok(s) => s,
            Err(e) => {
                self.failed(Collector::Process, &e, missing);
                ProcessStats::bare(ProcessState::Unknown)
            }
        };
        stats.probe = probe;
        stats
    }

    fn failed(&mut self, collector: Collector, error: &Error, missing: &mut Vec<Collector>) {
        self.errors.record(collector, error);
        missing.push(collector);
    }

    /// How many times each collector has failed since start, for the agent's metrics.
    pub fn error_counts(&self) -> impl Iterator<Item = (Collector, u64)> + '_ {
        self.errors.counts.iter().map(|(c, n)| (*c, *n))
    }
}

/// Counts collector failures and logs each collector's at most once per interval, so a broken
/// collector does not flood the log every 10 s.
struct ErrorLog {
    interval: Duration,
    counts: HashMap<Collector, u64>,
    last_logged: HashMap<Collector, (Instant, u64)>,
}

impl ErrorLog {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            counts: HashMap::new(),
            last_logged: HashMap::new(),
        }
    }

    fn record(&mut self, collector: Collector, error: &Error) {
        let count = self.counts.entry(collector).or_insert(0);
        *count += 1;
        let now = Instant::now();
        let due = match self.last_logged.get(&collector) {
            Some((at, _)) => now.saturating_duration_since(*at) >= self.interval,
            None => true,
        };
        if due {
            let suppressed = self
                .last_logged
                .get(&collector)
                .map_or(0, |(_, logged_at)| *count - logged_at - 1);
            tracing::warn!(
                ?collector,
                %error,
                failures_total = *count,
                suppressed_since_last_log = suppressed,
                "collector failed; its figures are marked missing in this sample"
            );
            self.last_logged.insert(collector, (now, *count));
        }
    }
}
