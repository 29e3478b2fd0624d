//! Host CPU: busy percent of all cores from `/proc/stat` deltas, core count, and load averages.

use std::path::PathBuf;

use procfs::{ExplicitSystemInfo, FromBufReadSI, FromRead, KernelStats, LoadAverage};

use super::{Error, Result};

/// Host CPU figures of one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuSample {
    /// Busy percent of all cores since the previous sample; `None` on the first.
    pub cpu_percent: Option<f32>,
    /// Number of cores listed in `/proc/stat`.
    pub cores: u32,
    /// Load averages over 1, 5 and 15 minutes.
    pub load_avg: [f32; 3],
    /// Boot time in seconds since the epoch (`btime`), which the process collector needs.
    pub boot_time_secs: u64,
}

/// Reads `/proc/stat` and `/proc/loadavg`, keeping the previous counters for the rate.
#[derive(Debug)]
pub struct CpuCollector {
    stat_path: PathBuf,
    loadavg_path: PathBuf,
    /// (busy ticks, total ticks) at the previous sample.
    previous: Option<(u64, u64)>,
}

impl CpuCollector {
    /// A collector reading under `proc_root`.
    pub fn new(proc_root: &std::path::Path) -> Self {
        Self {
            stat_path: proc_root.join("stat"),
            loadavg_path: proc_root.join("loadavg"),
            previous: None,
        }
    }

    /// Takes one sample.
    pub fn sample(&mut self) -> Result<CpuSample> {
        let file =
            std::fs::File::open(&self.stat_path).map_err(|e| Error::io(&self.stat_path, e))?;
        // Only the tick counts are used, so the tick rate and page size given here do not matter.
        let info = ExplicitSystemInfo {
            boot_time_secs: 0,
            ticks_per_second: 100,
            page_size: 4096,
            is_little_endian: cfg!(target_endian = "little"),
        };
        let stats = KernelStats::from_buf_read(std::io::BufReader::new(file), &info)
            .map_err(|e| Error::parse(&self.stat_path, e.to_string()))?;
        let t = &stats.total;
        // Guest time is already inside user and nice, so it is not added again.
        let idle = t.idle + t.iowait.unwrap_or(0);
        let busy = t.user
            + t.nice
            + t.system
            + t.irq.unwrap_or(0)
            + t.softirq.unwrap_or(0)
            + t.steal.unwrap_or(0);
        let total = busy + idle;
        let cpu_percent = match self.previous {
            Some((prev_busy, prev_total)) if total > prev_total && busy >= prev_busy => {
                Some(((busy - prev_busy) as f64 * 100.0 / (total - prev_total) as f64) as f32)
            }
            _ => None,
        };
        self.previous = Some((busy, total));

        let file = std::fs::File::open(&self.loadavg_path)
            .map_err(|e| Error::io(&self.loadavg_path, e))?;
        let load = LoadAverage::from_read(file)
            .map_err(|e| Error::parse(&self.loadavg_path, e.to_string()))?;
        Ok(CpuSample {
            cpu_percent,
            cores: stats.cpu_time.len() as u32,
            load_avg: [load.one, load.five, load.fifteen],
            boot_time_secs: stats.btime,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_stat(dir: &std::path::Path, user: u64, system: u64, idle: u64) {
        let text = format!(
            "cpu  {user} 0 {system} {idle} 0 0 0 0 0 0\n\
             cpu0 {user} 0 {system} {idle} 0 0 0 0 0 0\n\
             cpu1 0 0 0 0 0 0 0 0 0 0\n\
             intr 1\nctxt 5\nbtime 1700000000\nprocesses 10\nprocs_running 1\nprocs_blocked 0\n"
        );
        std::fs::write(dir.join("stat"), text).unwrap();
        std::fs::write(dir.join("loadavg"), "0.50 0.25 0.10 1/100 42\n").unwrap();
    }

    #[test]
    fn percent_comes_from_the_delta_between_samples() {
        let dir = tempfile::tempdir().unwrap();
        write_stat(dir.path(), 1000, 1000, 8000);
        let mut c = CpuCollector::new(dir.path());
        let first = c.sample().unwrap();
        assert_eq!(first.cpu_percent, None);
        assert_eq!(first.cores, 2);
        assert_eq!(first.load_avg, [0.5, 0.25, 0.1]);
        assert_eq!(first.boot_time_secs, 1_700_000_000);
        // 300 busy ticks out of 400: 75 %.
        write_stat(dir.path(), 1200, 1100, 8100);
        let second = c.sample().unwrap();
        assert_eq!(second.cpu_percent, Some(75.0));
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = CpuCollector::new(dir.path()).sample().unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }
}
