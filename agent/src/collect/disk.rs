//! Disk space and IO per log dir.
//!
//! Space comes from `statvfs` on the log dir itself. The device behind it is the mount with the
//! longest mount point that contains the log dir, from `<proc_root>/self/mountinfo`; its
//! `MAJ:MIN` finds the device's line in `<proc_root>/diskstats`, whose deltas give read and write
//! bytes per second (sectors are always 512 bytes there) and utilisation (time the device was
//! busy, in per-mille of the interval). A log dir on a filesystem without a block device (tmpfs,
//! overlay) has space but no IO figures; that is not an error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use kmedic_common::stats::LogDirStats;
use procfs::process::MountInfos;
use procfs::DiskStats;

use super::{per_sec, read_proc_file, Error};

/// Counters of one device at one instant.
#[derive(Debug, Clone, Copy)]
struct IoCounters {
    read_bytes: u64,
    write_bytes: u64,
    busy_ms: u64,
    at: Instant,
}

/// Reads space and IO for each log dir, keeping each device's previous counters.
#[derive(Debug)]
pub struct DiskCollector {
    mountinfo_path: PathBuf,
    diskstats_path: PathBuf,
    sys_root: PathBuf,
    log_dirs: Vec<PathBuf>,
    /// `MAJ:MIN` -> counters at the previous sample.
    previous: HashMap<String, IoCounters>,
}

impl DiskCollector {
    /// A collector reading under `proc_root` and `sys_root`.
    pub fn new(proc_root: &Path, sys_root: &Path, log_dirs: Vec<PathBuf>) -> Self {
        Self {
            mountinfo_path: proc_root.join("self").join("mountinfo"),
            diskstats_path: proc_root.join("diskstats"),
            sys_root: sys_root.to_path_buf(),
            log_dirs,
            previous: HashMap::new(),
        }
    }

    /// One entry per log dir (in the given order) now, and the first error met.
    pub fn sample(&mut self) -> (Vec<LogDirStats>, Option<Error>) {
        self.sample_at(Instant::now())
    }

    /// One entry per log dir as if at `now`, and the first error met.
    pub fn sample_at(&mut self, now: Instant) -> (Vec<LogDirStats>, Option<Error>) {
        let mut first_error: Option<Error> = None;
        let mounts = match read_proc_file::<MountInfos>(&self.mountinfo_path) {
            Ok(m) => Some(m),
            Err(e) => {
                first_error.get_or_insert(e);
                None
            }
        };
        let disks = match read_proc_file::<DiskStats>(&self.diskstats_path) {
            Ok(d) => Some(d),
            Err(e) => {
                first_error.get_or_insert(e);
                None
            }
        };
        let mut current: HashMap<String, IoCounters> = HashMap::new();
        let mut out = Vec::with_capacity(self.log_dirs.len());
        for dir in &self.log_dirs {
            let mut stats = LogDirStats {
                path: dir.display().to_string(),
                device: None,
                total_bytes: None,
                available_bytes: None,
                read_bytes_per_sec: None,
                write_bytes_per_sec: None,
                io_util_permille: None,
            };
            match rustix::fs::statvfs(dir) {
                Ok(vfs) => {
                    stats.total_bytes = Some(vfs.f_blocks.saturating_mul(vfs.f_frsize));
                    stats.available_bytes = Some(vfs.f_bavail.saturating_mul(vfs.f_frsize));
                }
                Err(e) => {
                    first_error.get_or_insert(Error::io(dir, e.into()));
                }
            }
            let mount = mounts.as_ref().and_then(|m| mount_of(m, dir));
            if let Some(mount) = mount {
                let majmin = parse_majmin(&mount.majmin);
                let disk = disks
                    .as_ref()
                    .and_then(|d| d.0.iter().find(|s| Some((s.major, s.minor)) == majmin));
                stats.device = disk
                    .map(|d| d.name.clone())
                    .or_else(|| self.sys_block_name(&mount.majmin))
                    .or_else(|| mount.mount_source.clone());
                if let Some(disk) = disk {
                    let now_counters = IoCounters {
                        read_bytes: disk.sectors_read.saturating_mul(512),
                        write_bytes: disk.sectors_written.saturating_mul(512),
                        busy_ms: disk.time_in_progress,
                        at: now,
                    };
                    if let Some(prev) = self.previous.get(&mount.majmin) {
                        let ms = now.saturating_duration_since(prev.at).as_millis() as u64;
                        // Counters only fall when the device was re-attached: skip that interval.
                        if now_counters.read_bytes >= prev.read_bytes
                            && now_counters.write_bytes >= prev.write_bytes
                            && now_counters.busy_ms >= prev.busy_ms
                        {
                            stats.read_bytes_per_sec =
                                per_sec(now_counters.read_bytes - prev.read_bytes, ms);
                            stats.write_bytes_per_sec =
                                per_sec(now_counters.write_bytes - prev.write_bytes, ms);
                            stats.io_util_permille = (ms > 0).then(|| {
                                ((now_counters.busy_ms - prev.busy_ms) * 1000 / ms).min(1000) as u32
                            });
                        }
                    }
                    current.insert(mount.majmin.clone(), now_counters);
                }
            }
            out.push(stats);
        }
        // Two log dirs on one device share counters; both get the same figures above because
        // `previous` is only replaced once every dir has been read.
        self.previous = current;
        (out, first_error)
    }

    /// The kernel's name for a block device, from the `/sys/dev/block/MAJ:MIN` link.
    fn sys_block_name(&self, majmin: &str) -> Option<String> {
        let link = std::fs::read_link(self.sys_root.join("dev").join("block").join(majmin)).ok()?;
        Some(link.file_name()?.to_str()?.to_owned())
    }
}

/// `"259:1"` -> `(259, 1)`.
fn parse_majmin(s: &str) -> Option<(i32, i32)> {
    let (major, minor) = s.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The mount holding `dir`: the longest mount point that is a prefix of it. Later lines win a
/// tie, as a later mount on the same point hides the earlier one.
fn mount_of<'a>(mounts: &'a MountInfos, dir: &Path) -> Option<&'a procfs::process::MountInfo> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut best: Option<&procfs::process::MountInfo> = None;
    for m in &mounts.0 {
        if dir.starts_with(&m.mount_point)
            && best
                .is_none_or(|b| m.mount_point.as_os_str().len() >= b.mount_point.as_os_str().len())
        {
            best = Some(m);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn write_proc(
        root: &Path,
        data_mount: &Path,
        read_sectors: u64,
        write_sectors: u64,
        io_ms: u64,
    ) {
        std::fs::create_dir_all(root.join("self")).unwrap();
        std::fs::write(
            root.join("self/mountinfo"),
            format!(
                "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
                 30 27 259:1 / {} rw,noatime - xfs /dev/nvme1n1p1 rw\n\
                 31 27 0:40 / /dev/shm rw - tmpfs tmpfs rw\n",
                data_mount.display()
            ),
        )
        .unwrap();
        std::fs::write(
            root.join("diskstats"),
            format!(
                " 254       0 vda 10 0 80 5 10 0 80 5 0 10 10 0 0 0 0 0 0\n \
                 259       1 nvme1n1p1 100 0 {read_sectors} 50 200 0 {write_sectors} 80 0 {io_ms} 130 0 0 0 0 0 0\n"
            ),
        )
        .unwrap();
    }

    #[test]
    fn space_device_and_io_rates_per_log_dir() {
        let proc_dir = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let data_path = std::fs::canonicalize(data.path()).unwrap();
        let log_dir = data_path.join("kafka-logs");
        std::fs::create_dir_all(&log_dir).unwrap();
        write_proc(proc_dir.path(), &data_path, 0, 0, 0);
        let mut c = DiskCollector::new(proc_dir.path(), Path::new("/nonexistent"), vec![log_dir]);
        let t0 = Instant::now();
        let (first, err) = c.sample_at(t0);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(first[0].device.as_deref(), Some("nvme1n1p1"));
        assert!(first[0].total_bytes.unwrap() > 0);
        assert!(first[0].available_bytes.unwrap() <= first[0].total_bytes.unwrap());
        assert_eq!(first[0].read_bytes_per_sec, None);

        // 20,000 sectors read and 40,000 written in 10 s, busy 2.5 s of it.
        write_proc(proc_dir.path(), &data_path, 20_000, 40_000, 2_500);
        let (second, _) = c.sample_at(t0 + Duration::from_secs(10));
        assert_eq!(second[0].read_bytes_per_sec, Some(20_000 * 512 / 10));
        assert_eq!(second[0].write_bytes_per_sec, Some(40_000 * 512 / 10));
        assert_eq!(second[0].io_util_permille, Some(250));
    }

    #[test]
    fn a_log_dir_without_a_block_device_has_space_but_no_io() {
        let proc_dir = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(proc_dir.path().join("self")).unwrap();
        std::fs::write(
            proc_dir.path().join("self/mountinfo"),
            "27 1 0:33 / / rw - overlay overlay rw\n",
        )
        .unwrap();
        std::fs::write(proc_dir.path().join("diskstats"), "").unwrap();
        let mut c = DiskCollector::new(
            proc_dir.path(),
            Path::new("/nonexistent"),
            vec![
                data.path().to_path_buf(),
                PathBuf::from("/nonexistent/log-dir"),
            ],
        );
        let (dirs, err) = c.sample();
        assert_eq!(dirs.len(), 2);
        assert_eq!(dirs[0].device.as_deref(), Some("overlay"));
        assert!(dirs[0].total_bytes.is_some());
        assert_eq!(dirs[0].io_util_permille, None);
        // The missing log dir is reported, with an error, and does not hide the first.
        assert!(matches!(err, Some(Error::Io { .. })));
        assert_eq!(dirs[1].total_bytes, None);
    }
}
