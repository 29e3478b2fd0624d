//! Class-data sharing (AppCDS) for the Kafka JVMs: a broker start costs about half the CPU when
//! Kafka's classes come pre-parsed from an archive (measured: 1.6-1.9 s instead of 3.1 s of CPU to
//! STARTED), which matters with seven JVMs on two cores.
//!
//! The archive lives next to the jars (tests/kafka/jars/kafka-cds.jsa, git-ignored, refetched
//! jars drop it). When it is missing, the first broker of a testbed runs with
//! -XX:ArchiveClassesAtExit, and the testbed's Drop stops that broker gracefully so the JVM writes
//! the archive; it is renamed into place atomically. A stale or foreign archive is harmless: the
//! JVM then just runs without sharing (-Xshare:auto). KMEDIC_TESTBED_CDS=off disables it all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::config::CONTROLLER_ID;
use crate::process;
use crate::testbed::Node;
use crate::Testbed;

/// Environment variable that turns class-data sharing off when set to "off".
pub const CDS_ENV: &str = "KMEDIC_TESTBED_CDS";

/// A broker JVM that writes the class archive when it exits normally.
pub(crate) struct CdsDump {
    pub(crate) id: i32,
    pub(crate) pid: u32,
    pub(crate) tmp: PathBuf,
}

fn archive_path(jars: &Path) -> PathBuf {
    jars.join("kafka-cds.jsa")
}

fn enabled() -> bool {
    std::env::var(CDS_ENV).map(|v| v != "off").unwrap_or(true)
}

impl Testbed {
    /// JVM flags for node `id`, and the temp archive path if this JVM is the one that records it.
    pub(crate) fn cds_flags(&self, id: i32) -> (Vec<String>, Option<PathBuf>) {
        if !enabled() {
            return (Vec::new(), None);
        }
        let archive = archive_path(&self.jars);
        if archive.is_file() {
            return (
                vec![format!("-XX:SharedArchiveFile={}", archive.display())],
                None,
            );
        }
        let dump = self.cds_dump.lock().unwrap_or_else(|e| e.into_inner());
        if id == CONTROLLER_ID || dump.is_some() {
            return (Vec::new(), None);
        }
        let tmp = self
            .root
            .join(format!("kafka-cds.{}.jsa", std::process::id()));
        (
            vec![format!("-XX:ArchiveClassesAtExit={}", tmp.display())],
            Some(tmp),
        )
    }

    /// Remembers which JVM records the archive.
    pub(crate) fn cds_recording(&self, id: i32, pid: u32, tmp: PathBuf) {
        let mut dump = self.cds_dump.lock().unwrap_or_else(|e| e.into_inner());
        *dump = Some(CdsDump { id, pid, tmp });
    }

    /// On drop: stops the recording broker gracefully (if it is still the same process) so the JVM
    /// writes its archive, then moves the archive into place.
    pub(crate) fn finish_cds_dump(&self, nodes: &mut BTreeMap<i32, Node>) {
        let Some(dump) = self
            .cds_dump
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        let Some(node) = nodes.get_mut(&dump.id) else {
            return;
        };
        if node.running_pid() != Some(dump.pid) {
            return; // killed or replaced by a test: no archive this time
        }
        let Some(child) = node.child.as_mut() else {
            return;
        };
        let _ = process::signal(dump.pid, Signal::SIGCONT);
        let _ = process::signal(dump.pid, Signal::SIGTERM);
        if !process::wait_exit(child, Duration::from_secs(30)) {
            tracing::warn!(
                node = dump.id,
                "class archive: broker did not stop in 30 s, no archive"
            );
            return;
        }
        node.child = None;
        let archive = archive_path(&self.jars);
        if dump.tmp.is_file() && !archive.is_file() {
            match std::fs::rename(&dump.tmp, &archive) {
                Ok(()) => {
                    tracing::info!(archive = %archive.display(), "recorded the Kafka class archive (AppCDS)")
                }
                Err(e) => tracing::warn!(error = %e, "could not move the class archive into place"),
            }
        }
        let _ = std::fs::remove_file(&dump.tmp);
    }
}
