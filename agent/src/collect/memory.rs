//! Host memory from `/proc/meminfo`.

use std::path::{Path, PathBuf};

use procfs::Meminfo;

use super::{read_proc_file, Result};

/// Reads `/proc/meminfo`.
#[derive(Debug)]
pub struct MemoryCollector {
    path: PathBuf,
}

impl MemoryCollector {
    /// A collector reading under `proc_root`.
    pub fn new(proc_root: &Path) -> Self {
        Self {
            path: proc_root.join("meminfo"),
        }
    }

    /// Total and available memory in bytes. Old kernels without `MemAvailable` get free plus
    /// page cache, the usual approximation.
    pub fn sample(&self) -> Result<(u64, u64)> {
        let info: Meminfo = read_proc_file(&self.path)?;
        let available = info
            .mem_available
            .unwrap_or(info.mem_free + info.cached + info.buffers);
        Ok((info.mem_total, available))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_total_and_available_in_bytes() {
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/collect/proc");
        let (total, available) = MemoryCollector::new(Path::new(fixture)).sample().unwrap();
        assert_eq!(total, 24_684_544 * 1024);
        assert_eq!(available, 24_000_000 * 1024);
    }
}
