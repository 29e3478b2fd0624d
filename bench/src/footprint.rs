//! Reads the sample tables printed by `agent/benches/footprint.sh` and `bench/jvm_floor.sh`
//! (`t_secs rss_kib hwm_kib cpu_%_core` rows every 30 s) for the agent-against-JVM section.

use std::path::Path;

use anyhow::{Context, Result};

/// One run's samples.
pub struct Samples {
    /// (seconds since start, RSS MiB, CPU % of one core over the interval).
    pub rows: Vec<(f64, f64, f64)>,
    /// The high-water mark (VmHWM) at each sample, KiB.
    pub hwm_kib: Vec<f64>,
}

impl Samples {
    /// Parses the numeric rows of a footprint log.
    pub fn read(path: &Path) -> Result<Samples> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        let numbers: Vec<Vec<f64>> = text
            .lines()
            .filter_map(|l| {
                let f: Vec<f64> = l
                    .split_whitespace()
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .ok()?;
                (f.len() == 4).then_some(f)
            })
            .collect();
        Ok(Samples {
            rows: numbers
                .iter()
                .map(|f| (f[0], f[1] / 1024.0, f[3]))
                .collect(),
            hwm_kib: numbers.iter().map(|f| f[2]).collect(),
        })
    }

    /// Seconds covered.
    pub fn duration(&self) -> f64 {
        self.rows.last().map_or(0.0, |r| r.0)
    }

    /// Mean and max RSS, MiB.
    pub fn rss(&self) -> (f64, f64) {
        let n = self.rows.len().max(1) as f64;
        let mean = self.rows.iter().map(|r| r.1).sum::<f64>() / n;
        (mean, self.rows.iter().map(|r| r.1).fold(0.0, f64::max))
    }

    /// The peak RSS the kernel saw (the largest VmHWM sampled), MiB.
    pub fn hwm_mib(&self) -> f64 {
        self.hwm_kib.iter().copied().fold(0.0, f64::max) / 1024.0
    }

    /// Mean CPU, % of one core (mean of the intervals, which are equal).
    pub fn cpu(&self) -> f64 {
        self.rows.iter().map(|r| r.2).sum::<f64>() / self.rows.len().max(1) as f64
    }
}
