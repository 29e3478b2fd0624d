//! Disk space and IO per log dir (being built).

use std::path::{Path, PathBuf};

use kmedic_common::stats::LogDirStats;

use super::Error;

/// Reads space and IO for each log dir.
#[derive(Debug)]
pub struct DiskCollector {
    log_dirs: Vec<PathBuf>,
}

impl DiskCollector {
    /// A collector reading under `proc_root` and `sys_root`.
    pub fn new(_proc_root: &Path, _sys_root: &Path, log_dirs: Vec<PathBuf>) -> Self {
        Self { log_dirs }
    }

    /// One entry per log dir, and the first error met.
    pub fn sample(&mut self) -> (Vec<LogDirStats>, Option<Error>) {
        let dirs = self
            .log_dirs
            .iter()
            .map(|p| LogDirStats {
                path: p.display().to_string(),
                device: None,
                total_bytes: None,
                available_bytes: None,
                read_bytes_per_sec: None,
                write_bytes_per_sec: None,
                io_util_permille: None,
            })
            .collect();
        (
            dirs,
            Some(Error::Unavailable("disk collector not built yet".into())),
        )
    }
}
