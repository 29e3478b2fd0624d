//! Host network: receive and transmit bytes per second per interface, from `/proc/net/dev` deltas.
//!
//! The loopback interface is left out (its traffic never leaves the host) unless it is the
//! configured primary interface, as on a single-host test cluster. A counter that goes down
//! (the interface was re-created or its driver reset the counters) counts from zero: the interval's
//! delta is the new value, which can only under-count.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use kmedic_common::stats::InterfaceStats;
use procfs::net::InterfaceDeviceStatus;

use super::{per_sec, read_proc_file, Result};

/// Network figures of one sample.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NetworkSample {
    /// Per-interface rates; empty on the first sample.
    pub interfaces: Vec<InterfaceStats>,
    /// Sum of `interfaces` receive rates; `None` on the first sample.
    pub rx_bytes_per_sec: Option<u64>,
    /// Sum of `interfaces` transmit rates; `None` on the first sample.
    pub tx_bytes_per_sec: Option<u64>,
}

/// Reads `/proc/net/dev`, keeping the previous counters for the rates.
#[derive(Debug)]
pub struct NetworkCollector {
    path: PathBuf,
    primary: Option<String>,
    /// Interface name -> (rx bytes, tx bytes) at `previous_at`.
    previous: HashMap<String, (u64, u64)>,
    previous_at: Option<Instant>,
}

impl NetworkCollector {
    /// A collector reading under `proc_root`; `primary` is always reported, even if loopback.
    pub fn new(proc_root: &Path, primary: Option<String>) -> Self {
        Self {
            path: proc_root.join("net").join("dev"),
            primary,
            previous: HashMap::new(),
            previous_at: None,
        }
    }

    /// Takes one sample now.
    pub fn sample(&mut self) -> Result<NetworkSample> {
        self.sample_at(Instant::now())
    }

    /// Takes one sample as if at `now` (tests drive the clock).
    pub fn sample_at(&mut self, now: Instant) -> Result<NetworkSample> {
        let status: InterfaceDeviceStatus = read_proc_file(&self.path)?;
        let interval_ms = self
            .previous_at
            .map(|at| now.saturating_duration_since(at).as_millis() as u64);
        let mut out = NetworkSample::default();
        let (mut rx_total, mut tx_total) = (0u64, 0u64);
        for (name, dev) in &status.0 {
            let wanted = self.primary.as_deref() == Some(name.as_str()) || name != "lo";
            if !wanted {
                continue;
            }
            let previous = self.previous.get(name).copied();
            if let (Some((rx0, tx0)), Some(ms)) = (previous, interval_ms) {
                let rx = per_sec(counter_delta(rx0, dev.recv_bytes), ms);
                let tx = per_sec(counter_delta(tx0, dev.sent_bytes), ms);
                if let (Some(rx), Some(tx)) = (rx, tx) {
                    rx_total = rx_total.saturating_add(rx);
                    tx_total = tx_total.saturating_add(tx);
                    out.interfaces.push(InterfaceStats {
                        name: name.clone(),
                        rx_bytes_per_sec: rx,
                        tx_bytes_per_sec: tx,
                    });
                }
            }
        }
        if interval_ms.is_some_and(|ms| ms > 0) {
            out.rx_bytes_per_sec = Some(rx_total);
            out.tx_bytes_per_sec = Some(tx_total);
        }
        out.interfaces.sort_by(|a, b| a.name.cmp(&b.name));
        // Interfaces that vanished are forgotten, so a re-created one starts afresh.
        self.previous.retain(|name, _| status.0.contains_key(name));
        for (name, dev) in status.0 {
            self.previous.insert(name, (dev.recv_bytes, dev.sent_bytes));
        }
        self.previous_at = Some(now);
        Ok(out)
    }
}

/// Growth of a byte counter; a counter that went down was reset and counts from zero.
fn counter_delta(before: u64, now: u64) -> u64 {
    if now >= before {
        now - before
    } else {
        now
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const HEADER: &str = "Inter-|   Receive                                                |  Transmit\n \
        face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    fn write_dev(root: &Path, lo: u64, eth_rx: u64, eth_tx: u64) {
        std::fs::create_dir_all(root.join("net")).unwrap();
        let text = format!(
            "{HEADER}    lo: {lo} 1 0 0 0 0 0 0 {lo} 1 0 0 0 0 0 0\n  \
             eth0: {eth_rx} 10 0 0 0 0 0 0 {eth_tx} 10 0 0 0 0 0 0\n"
        );
        std::fs::write(root.join("net/dev"), text).unwrap();
    }

    #[test]
    fn rates_per_interface_and_total_without_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let mut c = NetworkCollector::new(dir.path(), None);
        write_dev(dir.path(), 0, 1_000, 5_000);
        let first = c.sample_at(t0).unwrap();
        assert!(first.interfaces.is_empty());
        assert_eq!(first.rx_bytes_per_sec, None);

        write_dev(dir.path(), 999_999, 21_000, 45_000);
        let second = c.sample_at(t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(
            second.interfaces,
            vec![InterfaceStats {
                name: "eth0".into(),
                rx_bytes_per_sec: 2_000,
                tx_bytes_per_sec: 4_000
            }]
        );
        assert_eq!(second.rx_bytes_per_sec, Some(2_000));
        assert_eq!(second.tx_bytes_per_sec, Some(4_000));
    }

    #[test]
    fn loopback_counts_when_it_is_the_primary_interface() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let mut c = NetworkCollector::new(dir.path(), Some("lo".into()));
        write_dev(dir.path(), 0, 0, 0);
        c.sample_at(t0).unwrap();
        write_dev(dir.path(), 10_000, 0, 0);
        let s = c.sample_at(t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(s.interfaces.len(), 2);
        assert_eq!(s.rx_bytes_per_sec, Some(5_000));
    }

    #[test]
    fn a_reset_counter_never_gives_a_huge_rate() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let mut c = NetworkCollector::new(dir.path(), None);
        write_dev(dir.path(), 0, u64::MAX - 10, 1_000_000);
        c.sample_at(t0).unwrap();
        write_dev(dir.path(), 0, 3_000, 500);
        let s = c.sample_at(t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(s.rx_bytes_per_sec, Some(3_000));
        assert_eq!(s.tx_bytes_per_sec, Some(500));
    }

    #[test]
    fn reads_a_real_kernel_file() {
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/collect/proc");
        let mut c = NetworkCollector::new(Path::new(fixture), None);
        let t0 = Instant::now();
        c.sample_at(t0).unwrap();
        let s = c.sample_at(t0 + Duration::from_secs(1)).unwrap();
        let names: Vec<_> = s.interfaces.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["eth0", "ifb0"]);
        assert_eq!(s.rx_bytes_per_sec, Some(0));
    }
}
