//! Per-replica figures from the broker's log dirs: size, segment count, and bytes appended per
//! second, measured from log growth on disk.
//!
//! # What is counted
//!
//! A partition directory is `<topic>-<partition>`, or `<topic>-<partition>.<id>-future` for an
//! intra-broker move in progress. Directories being deleted (`-delete`), stray logs (`-stray`) and
//! the KRaft metadata log (`__cluster_metadata-0`) are skipped; internal topics such as
//! `__consumer_offsets` are included.
//!
//! The size is the sum of the `.log` segment files only, as Kafka's own `UnifiedLog.size` and
//! DescribeLogDirs count it. Index files are left out: the active segment's indexes are
//! preallocated (10 MiB by default) and sparse, so counting them would report megabytes for an
//! empty partition. Transient files of the cleaner (`.cleaned`, `.swap`) and segments queued for
//! deletion (`.deleted`) are not segments.
//!
//! # How the rate stays right across roll, retention and compaction
//!
//! Kafka only ever appends to the newest (active) segment. Retention deletes the oldest segments
//! and the cleaner rewrites older ones smaller, but neither touches the active segment. So for each
//! partition only the newest segment's base offset and size are kept (24 bytes of state), and the
//! bytes appended since the previous scan are:
//!
//! - same newest segment: its growth;
//! - a roll (a newer base offset): the old active segment's growth up to its final size (still
//!   on disk as a closed segment) plus the full size of every segment with a higher base offset;
//! - a segment that vanished or shrank (deleted or compacted right after rolling) adds nothing,
//!   never a negative amount; the figure can then only under-count.
//! - a newest base offset that went backwards (the partition was deleted and re-created, or
//!   truncated) gives no rate for that interval (`None`), and the next scan counts again.
//!
//! # Cost
//!
//! A scan reads no file contents. A partition directory is listed (`read_dir` plus one `stat`
//! per `.log` file) only when its modification time changed since the last listing: adding,
//! removing or renaming a segment (roll, retention, compaction's swap) always changes it, while
//! appends to the active segment do not. Otherwise the scan costs two `stat` calls, the
//! directory and the active segment, and the closed segments' total comes from the last listing.
//! A listing whose directory time was within [`RACY_MTIME`] of the listing itself is not trusted
//! (a change in the same clock tick would go unseen), and every [`FULL_LISTING_EVERY`]th scan
//! lists every directory anyway. The per-partition state is dropped as soon as the directory
//! disappears.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use kmedic_common::stats::{ReplicaRole, ReplicaStats};

use super::{per_sec, Error};

/// A directory listing taken less than this after the directory last changed is re-taken at the
/// next scan: filesystems stamp times with a coarse clock (whole seconds on some).
pub const RACY_MTIME: Duration = Duration::from_secs(2);

/// Every this many scans, every partition directory is listed even if it looks unchanged.
pub const FULL_LISTING_EVERY: u64 = 10;

/// The outcome of one scan of the log dirs.
#[derive(Debug, Default)]
pub struct ReplicaScan {
    /// Topic names that `replicas` index into, sorted.
    pub topics: Vec<String>,
    /// One entry per partition directory, sorted by log dir, topic and partition.
    pub replicas: Vec<ReplicaStats>,
    /// Milliseconds since the previous scan (0 on the first).
    pub interval_ms: u64,
    /// The first error met; the other log dirs and partitions were still scanned.
    pub error: Option<Error>,
}

/// What is remembered about one partition directory between scans.
#[derive(Debug, Clone, Copy)]
struct PartState {
    /// Base offset of the newest segment.
    newest_base: u64,
    /// Size in bytes of that segment at the previous scan.
    newest_size: u64,
    /// Total size of the older (closed) segments at the last listing.
    older_bytes: u64,
    /// Number of older segments at the last listing.
    older_count: u32,
    /// The directory's modification time at the last listing, if that listing can be trusted
    /// to stay valid while the time does not change.
    listed_mtime: Option<SystemTime>,
    /// Whether this scan saw the directory (entries not seen are dropped).
    seen: bool,
}

/// One partition's figures from one scan.
#[derive(Debug, Clone, Copy)]
struct Measured {
    size_bytes: u64,
    segments: u32,
    appended: Option<u64>,
}

/// A partition directory's name, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDir<'a> {
    /// The topic name.
    pub topic: &'a str,
    /// The partition number.
    pub partition: i32,
    /// A `-future` directory (an intra-broker move in progress).
    pub future: bool,
}

/// Parses a directory name in a log dir; `None` for anything that is not a live replica.
pub fn parse_partition_dir(name: &str) -> Option<PartitionDir<'_>> {
    if name.ends_with("-delete") || name.ends_with("-stray") {
        return None;
    }
    let (base, future) = match name.strip_suffix("-future") {
        // `<topic>-<partition>.<unique id>-future`
        Some(rest) => (rest.rsplit_once('.')?.0, true),
        None => (name, false),
    };
    let (topic, partition) = base.rsplit_once('-')?;
    if topic.is_empty() || partition.is_empty() || !partition.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // The KRaft metadata log lives in the log dir of a combined or controller node; it is not a
    // replica the master can move.
    if topic == "__cluster_metadata" {
        return None;
    }
    Some(PartitionDir {
        topic,
        partition: partition.parse().ok()?,
        future,
    })
}

/// The base offset of a segment file name (`00000000000000001234.log`), or `None`.
fn segment_base(name: &OsStr) -> Option<u64> {
    let stem = name.to_str()?.strip_suffix(".log")?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Scans the log dirs and keeps, per partition, what the next scan needs for the rate.
#[derive(Debug)]
pub struct ReplicaCollector {
    log_dirs: Vec<PathBuf>,
    /// Per log dir: partition directory name -> state.
    state: Vec<HashMap<Box<str>, PartState>>,
    previous_at: Option<Instant>,
    /// Reused between partitions: (base offset, size) of each segment.
    segments: Vec<(u64, u64)>,
    /// Scans so far.
    scans: u64,
    /// Directory listings so far (the expensive path).
    listings: u64,
}

impl ReplicaCollector {
    /// A collector over these log dirs.
    pub fn new(log_dirs: Vec<PathBuf>) -> Self {
        let state = log_dirs.iter().map(|_| HashMap::new()).collect();
        Self {
            log_dirs,
            state,
            previous_at: None,
            segments: Vec::new(),
            scans: 0,
            listings: 0,
        }
    }

    /// How many partitions are remembered (for tests and the memory budget).
    pub fn tracked_partitions(&self) -> usize {
        self.state.iter().map(HashMap::len).sum()
    }

    /// How many partition directories have been listed so far; the rest of the partition
    /// scans took the two-`stat` path.
    pub fn listings(&self) -> u64 {
        self.listings
    }

    /// Scans every log dir now.
    pub fn sample(&mut self) -> ReplicaScan {
        self.sample_at(Instant::now())
    }

    /// Scans every log dir as if at `now` (tests drive the clock).
    pub fn sample_at(&mut self, now: Instant) -> ReplicaScan {
        let interval_ms = self
            .previous_at
            .map_or(0, |at| now.saturating_duration_since(at).as_millis() as u64);
        let mut scan = ReplicaScan {
            interval_ms,
            ..ReplicaScan::default()
        };
        // Topic name -> index in scan.topics; rebuilt each scan, topics are few.
        let mut topic_index: HashMap<String, u32> = HashMap::new();
        let full = self.scans % FULL_LISTING_EVERY == 0;
        self.scans += 1;
        let started = SystemTime::now();
        for dir_index in 0..self.log_dirs.len() {
            let pass = Pass {
                interval_ms,
                full,
                started,
            };
            if let Err(e) = self.scan_dir(dir_index, pass, &mut topic_index, &mut scan) {
                tracing::debug!(log_dir = %self.log_dirs[dir_index].display(), error = %e,
                    "log dir scan failed");
                scan.error.get_or_insert(e);
            }
        }
        // Stable output: topics sorted by name, replicas by log dir, topic and partition.
        let mut order: Vec<u32> = (0..scan.topics.len() as u32).collect();
        order.sort_unstable_by(|a, b| scan.topics[*a as usize].cmp(&scan.topics[*b as usize]));
        let mut remap = vec![0u32; order.len()];
        for (new, old) in order.iter().enumerate() {
            remap[*old as usize] = new as u32;
        }
        for r in &mut scan.replicas {
            r.topic = remap[r.topic as usize];
        }
        scan.topics.sort_unstable();
        scan.replicas
            .sort_unstable_by_key(|r| (r.log_dir, r.topic, r.partition, r.future));
        self.previous_at = Some(now);
        scan
    }

    fn scan_dir(
        &mut self,
        dir_index: usize,
        pass: Pass,
        topic_index: &mut HashMap<String, u32>,
        scan: &mut ReplicaScan,
    ) -> Result<(), Error> {
        let log_dir = &self.log_dirs[dir_index];
        let state = &mut self.state[dir_index];
        let entries = match std::fs::read_dir(log_dir) {
            Ok(e) => e,
            Err(e) => {
                // An offline disk: its partitions are forgotten, and counted afresh when it is back.
                state.clear();
                return Err(Error::io(log_dir, e));
            }
        };
        let mut first_error = None;
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    first_error.get_or_insert(Error::io(log_dir, e));
                    continue;
                }
            };
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(parsed) = parse_partition_dir(name) else {
                continue;
            };
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    first_error.get_or_insert(Error::io(entry.path(), e));
                    continue;
                }
            };
            if !meta.is_dir() {
                continue;
            }
            let mtime = meta.modified().ok();
            let path = entry.path();
            let previous = state.get(name).copied();
            let quick = match previous {
                Some(prev)
                    if !pass.full && prev.listed_mtime.is_some() && prev.listed_mtime == mtime =>
                {
                    quick_measure(&path, prev)
                }
                _ => None,
            };
            let (measured, next) = match quick {
                Some(q) => q,
                None => {
                    self.listings += 1;
                    match list_segments(&path, &mut self.segments) {
                        Ok(()) => {}
                        // Deleted between the two read_dirs: not a replica any more.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => {
                            first_error.get_or_insert(Error::io(&path, e));
                            continue;
                        }
                    }
                    // Trust this listing only if the directory had not changed just before it.
                    let trusted = mtime
                        .filter(|m| m.checked_add(RACY_MTIME).is_some_and(|t| t <= pass.started));
                    measure_listing(&self.segments, previous.as_ref(), trusted)
                }
            };
            match next {
                Some(next) => match state.get_mut(name) {
                    Some(s) => *s = next,
                    None => {
                        state.insert(name.into(), next);
                    }
                },
                // No segment at all (being created): nothing to measure from yet.
                None => {
                    state.remove(name);
                }
            }
            let topic = match topic_index.get(parsed.topic) {
                Some(i) => *i,
                None => {
                    let i = scan.topics.len() as u32;
                    scan.topics.push(parsed.topic.to_owned());
                    topic_index.insert(parsed.topic.to_owned(), i);
                    i
                }
            };
            scan.replicas.push(ReplicaStats {
                topic,
                partition: parsed.partition,
                log_dir: dir_index as u16,
                size_bytes: measured.size_bytes,
                segments: measured.segments,
                bytes_in_per_sec: measured.appended.and_then(|a| per_sec(a, pass.interval_ms)),
                bytes_out_per_sec: None,
                role: ReplicaRole::Unknown,
                in_sync: None,
                under_replicated: None,
                reassigning: None,
                future: parsed.future,
            });
        }
        // Partitions not seen this time were deleted or moved away.
        state.retain(|_, s| std::mem::replace(&mut s.seen, false));
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// What a scan pass needs to know besides the log dir.
#[derive(Debug, Clone, Copy)]
struct Pass {
    interval_ms: u64,
    /// List every directory, whatever its modification time.
    full: bool,
    /// Wall-clock time the scan started, to tell racy directory times.
    started: SystemTime,
}

/// The two-`stat` path: the directory is unchanged since a trusted listing, so only the active
/// segment can have grown. `None` when that segment is gone (then the directory is listed).
fn quick_measure(dir: &Path, prev: PartState) -> Option<(Measured, Option<PartState>)> {
    let newest = dir.join(format!("{:020}.log", prev.newest_base));
    let size = std::fs::metadata(newest).ok()?.len();
    let measured = Measured {
        size_bytes: prev.older_bytes.saturating_add(size),
        segments: prev.older_count + 1,
        appended: Some(size.saturating_sub(prev.newest_size)),
    };
    let next = PartState {
        newest_size: size,
        seen: true,
        ..prev
    };
    Some((measured, Some(next)))
}

/// Figures and next state from a fresh listing of a partition's segments.
fn measure_listing(
    segments: &[(u64, u64)],
    prev: Option<&PartState>,
    listed_mtime: Option<SystemTime>,
) -> (Measured, Option<PartState>) {
    let size_bytes: u64 = segments.iter().map(|(_, s)| s).sum();
    let newest = segments.iter().copied().max_by_key(|(base, _)| *base);
    let appended = match (prev, newest) {
        (Some(prev), Some(newest)) => appended_since(prev, newest, segments),
        _ => None,
    };
    let measured = Measured {
        size_bytes,
        segments: segments.len() as u32,
        appended,
    };
    let next = newest.map(|(newest_base, newest_size)| PartState {
        newest_base,
        newest_size,
        older_bytes: size_bytes - newest_size,
        older_count: segments.len() as u32 - 1,
        listed_mtime,
        seen: true,
    });
    (measured, next)
}

/// Lists `dir`'s segments into `out` as (base offset, size).
fn list_segments(dir: &Path, out: &mut Vec<(u64, u64)>) -> std::io::Result<()> {
    out.clear();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(base) = segment_base(&entry.file_name()) else {
            continue;
        };
        match entry.metadata() {
            Ok(m) => out.push((base, m.len())),
            // Retention deleted it between read_dir and stat.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Bytes appended since `prev`, given the newest segment now and all segments now.
fn appended_since(prev: &PartState, newest: (u64, u64), segments: &[(u64, u64)]) -> Option<u64> {
    let (newest_base, newest_size) = newest;
    if newest_base == prev.newest_base {
        return Some(newest_size.saturating_sub(prev.newest_size));
    }
    if newest_base < prev.newest_base {
        // Re-created or truncated: no honest figure for this interval.
        return None;
    }
    let mut appended = 0u64;
    for &(base, size) in segments {
        if base == prev.newest_base {
            appended = appended.saturating_add(size.saturating_sub(prev.newest_size));
        } else if base > prev.newest_base {
            appended = appended.saturating_add(size);
        }
    }
    Some(appended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_dir_names() {
        let p = |topic, partition, future| {
            Some(PartitionDir {
                topic,
                partition,
                future,
            })
        };
        assert_eq!(parse_partition_dir("orders-0"), p("orders", 0, false));
        assert_eq!(
            parse_partition_dir("my-topic.v2-17"),
            p("my-topic.v2", 17, false)
        );
        assert_eq!(
            parse_partition_dir("__consumer_offsets-49"),
            p("__consumer_offsets", 49, false)
        );
        assert_eq!(
            parse_partition_dir("a.b-3.0f1e2d3c4b5a69788796a5b4c3d2e1f0-future"),
            p("a.b", 3, true)
        );
        for skipped in [
            "orders-0.0f1e2d3c4b5a69788796a5b4c3d2e1f0-delete",
            "orders-0.0f1e2d3c4b5a69788796a5b4c3d2e1f0-stray",
            "__cluster_metadata-0",
            "lost+found",
            "orders",
            "orders-",
            "-1",
            "orders-x1",
        ] {
            assert_eq!(parse_partition_dir(skipped), None, "{skipped}");
        }
    }

    #[test]
    fn segment_names() {
        assert_eq!(
            segment_base(OsStr::new("00000000000000001234.log")),
            Some(1234)
        );
        assert_eq!(segment_base(OsStr::new("00000000000000001234.index")), None);
        assert_eq!(
            segment_base(OsStr::new("00000000000000001234.log.cleaned")),
            None
        );
        assert_eq!(
            segment_base(OsStr::new("00000000000000001234.log.deleted")),
            None
        );
        assert_eq!(
            segment_base(OsStr::new("00000000000000001234.log.swap")),
            None
        );
        assert_eq!(segment_base(OsStr::new(".log")), None);
    }
}
