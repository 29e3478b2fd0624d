//! The Kafka process: found by a pid file or by its command line, then read from `/proc/<pid>`.
//!
//! Several brokers may run on one host (the testbed runs seven JVMs on one machine), so the
//! command-line search can also require the broker's server.properties path: the process whose
//! command line holds both `kafka_cmdline_match` and that path is this agent's broker. The pid
//! found is remembered with its start time, so the next sample reads only that pid's files and a
//! recycled pid is never mistaken for the broker.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use kmedic_common::stats::{Probe, ProcessState, ProcessStats};
use procfs::process::Process;

use super::{Error, Result};

/// How the Kafka process is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finder {
    /// Read the pid from this file.
    PidFile(PathBuf),
    /// Search every `/proc/<pid>/cmdline`.
    Cmdline {
        /// A string the command line must contain (for example `kafka.Kafka`).
        pattern: String,
        /// When set, one argument must name this server.properties file: the same path, or a
        /// relative path that this one ends with (`config/server.properties`).
        properties: Option<PathBuf>,
    },
}

impl Finder {
    /// A command-line finder for `pattern` and, optionally, the broker's server.properties.
    pub fn cmdline(pattern: &str, properties: Option<&Path>) -> Self {
        Finder::Cmdline {
            pattern: pattern.to_owned(),
            // The broker may have been started with the canonical path or another spelling.
            properties: properties.map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.into())),
        }
    }
}

/// Whether a NUL-separated command line matches the finder's pattern and properties path.
fn cmdline_matches(cmdline: &[u8], pattern: &str, properties: Option<&Path>) -> bool {
    if !contains(cmdline, pattern.as_bytes()) {
        return false;
    }
    let Some(properties) = properties else {
        return true;
    };
    cmdline.split(|b| *b == 0).any(|arg| {
        let Ok(arg) = std::str::from_utf8(arg) else {
            return false;
        };
        if arg.is_empty() {
            return false;
        }
        let arg = Path::new(arg);
        if arg.is_absolute() {
            arg == properties || std::fs::canonicalize(arg).is_ok_and(|c| c == properties)
        } else {
            properties.ends_with(arg)
        }
    })
}

/// The process found at the previous sample.
#[derive(Debug, Clone, Copy)]
struct Tracked {
    pid: i32,
    starttime: u64,
    /// utime + stime in ticks, and when they were read.
    cpu_ticks: u64,
    at: Instant,
}

/// Reads the Kafka process's state, CPU, memory, threads, fds and uptime.
#[derive(Debug)]
pub struct ProcessCollector {
    proc_root: PathBuf,
    finder: Finder,
    tracked: Option<Tracked>,
    ticks_per_sec: u64,
    page_size: u64,
}

impl ProcessCollector {
    /// A collector reading under `proc_root`, finding the process with `finder`.
    pub fn new(proc_root: &Path, finder: Finder) -> Self {
        Self {
            proc_root: proc_root.to_path_buf(),
            finder,
            tracked: None,
            ticks_per_sec: procfs::ticks_per_second().max(1),
            page_size: procfs::page_size().max(1),
        }
    }

    /// Changes how the process is found (for example once the server.properties path is known).
    pub fn set_finder(&mut self, finder: Finder) {
        self.finder = finder;
        self.tracked = None;
    }

    /// Samples the process now; `boot_time_secs` (from `/proc/stat`) gives the uptime.
    /// The probe is left [`Probe::NotRun`]: the probe collector fills it.
    pub fn sample(&mut self, boot_time_secs: Option<u64>) -> Result<ProcessStats> {
        self.sample_at(Instant::now(), boot_time_secs)
    }

    /// Samples the process as if at `now` (tests drive the clock).
    pub fn sample_at(&mut self, now: Instant, boot_time_secs: Option<u64>) -> Result<ProcessStats> {
        let Some(pid) = self.find()? else {
            if let Some(t) = self.tracked.take() {
                tracing::info!(pid = t.pid, "the Kafka process is gone");
            }
            return Ok(gone());
        };
        let pid_dir = self.proc_root.join(pid.to_string());
        let process = match Process::new_with_root(pid_dir.clone()) {
            Ok(p) => p,
            // It exited between the search and now.
            Err(procfs::ProcError::NotFound(_)) => return Ok(gone()),
            Err(e) => return Err(Error::parse(pid_dir, e.to_string())),
        };
        let stat = match process.stat() {
            Ok(s) => s,
            Err(procfs::ProcError::NotFound(_)) => return Ok(gone()),
            Err(e) => return Err(Error::parse(pid_dir.join("stat"), e.to_string())),
        };
        let state = match stat.state {
            'T' | 't' => ProcessState::Stopped,
            // A zombie has exited; only its parent has not reaped it yet. Forget it, so the
            // next sample searches again (a restarted broker is found while the zombie lingers).
            'Z' | 'X' | 'x' => {
                if let Some(t) = self.tracked.take() {
                    tracing::info!(
                        pid = t.pid,
                        "the Kafka process is gone (exited, not reaped)"
                    );
                }
                return Ok(gone());
            }
            _ => ProcessState::Running,
        };
        let cpu_ticks = stat.utime + stat.stime;
        let cpu_percent = match self.tracked {
            Some(t)
                if t.pid == pid && t.starttime == stat.starttime && cpu_ticks >= t.cpu_ticks =>
            {
                let secs = now.saturating_duration_since(t.at).as_secs_f64();
                (secs > 0.0).then(|| {
                    let used = (cpu_ticks - t.cpu_ticks) as f64 / self.ticks_per_sec as f64;
                    (used * 100.0 / secs) as f32
                })
            }
            _ => {
                tracing::info!(pid, state = ?state, "found the Kafka process");
                None
            }
        };
        self.tracked = Some(Tracked {
            pid,
            starttime: stat.starttime,
            cpu_ticks,
            at: now,
        });
        // Counting fds needs the same user as the broker (or CAP_DAC_READ_SEARCH); without it the
        // figure is left out rather than failing the whole collector.
        // Counted by listing, not from the directory's st_size, which only newer kernels fill in.
        let open_fds = std::fs::read_dir(pid_dir.join("fd"))
            .ok()
            .map(|entries| entries.count() as u32);
        let uptime_secs = boot_time_secs.and_then(|btime| {
            let started = btime + stat.starttime / self.ticks_per_sec;
            let now_secs = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
            now_secs.checked_sub(started)
        });
        Ok(ProcessStats {
            state,
            pid: Some(pid as u32),
            cpu_percent,
            rss_bytes: Some(stat.rss * self.page_size),
            threads: u32::try_from(stat.num_threads).ok(),
            open_fds,
            uptime_secs,
            probe: Probe::NotRun,
        })
    }

    /// The broker's pid, or `None` if no such process runs.
    fn find(&self) -> Result<Option<i32>> {
        match &self.finder {
            Finder::PidFile(path) => {
                let text = match std::fs::read_to_string(path) {
                    Ok(t) => t,
                    // No pid file: the broker is not running (its start script writes it).
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(Error::io(path, e)),
                };
                let pid: i32 = text
                    .trim()
                    .parse()
                    .map_err(|_| Error::parse(path, format!("not a pid: {:?}", text.trim())))?;
                Ok(self.proc_root.join(pid.to_string()).exists().then_some(pid))
            }
            Finder::Cmdline {
                pattern,
                properties,
            } => {
                if let Some(t) = self.tracked {
                    // Still the same process? Its start time tells a recycled pid apart.
                    let path = self.proc_root.join(t.pid.to_string());
                    if let Ok(stat) = Process::new_with_root(path).and_then(|p| p.stat()) {
                        if stat.starttime == t.starttime {
                            return Ok(Some(t.pid));
                        }
                    }
                }
                self.search(pattern, properties.as_deref())
            }
        }
    }

    /// Scans every process's command line.
    fn search(&self, pattern: &str, properties: Option<&Path>) -> Result<Option<i32>> {
        let entries =
            std::fs::read_dir(&self.proc_root).map_err(|e| Error::io(&self.proc_root, e))?;
        let mut found: Vec<i32> = Vec::new();
        let mut cmdline = Vec::new();
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            cmdline.clear();
            let Ok(mut file) = std::fs::File::open(entry.path().join("cmdline")) else {
                continue;
            };
            if std::io::Read::read_to_end(&mut file, &mut cmdline).is_err() {
                continue;
            }
            if cmdline_matches(&cmdline, pattern, properties) {
                found.push(pid);
            }
        }
        found.sort_unstable();
        if found.len() > 1 {
            tracing::warn!(
                pids = ?found,
                pattern,
                properties = ?properties,
                "several processes match the Kafka command line; taking the lowest pid. \
                 Set kafka_pid_file, or let the agent match on the server.properties path"
            );
        }
        Ok(found.first().copied())
    }
}

/// A [`ProcessStats`] for a broker process that does not exist.
fn gone() -> ProcessStats {
    ProcessStats::bare(ProcessState::Gone)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake `/proc/<pid>` with a stat line in the kernel's format.
    fn fake_process(root: &Path, pid: i32, state: char, cmdline: &str, utime: u64, starttime: u64) {
        let dir = root.join(pid.to_string());
        std::fs::create_dir_all(dir.join("fd")).unwrap();
        std::fs::write(dir.join("cmdline"), cmdline.replace(' ', "\0")).unwrap();
        for fd in 0..3 {
            std::fs::write(dir.join("fd").join(fd.to_string()), "").unwrap();
        }
        let stat = format!(
            "{pid} (java) {state} 1 {pid} {pid} 0 -1 4194560 100 0 0 0 {utime} 50 0 0 20 0 \
             42 0 {starttime} 1000000000 25000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 \
             17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        );
        std::fs::write(dir.join("stat"), stat).unwrap();
    }

    fn finder(props: &str) -> Finder {
        Finder::cmdline("kafka.Kafka", Some(Path::new(props)))
    }

    #[test]
    fn properties_path_matches_whole_arguments_only() {
        let m = |cmd: &str, props: &str| {
            cmdline_matches(
                cmd.replace(' ', "\0").as_bytes(),
                "kafka.Kafka",
                Some(Path::new(props)),
            )
        };
        assert!(m(
            "java kafka.Kafka /b/1/server.properties",
            "/b/1/server.properties"
        ));
        assert!(!m(
            "java kafka.Kafka /b/11/server.properties",
            "/b/1/server.properties"
        ));
        assert!(!m(
            "java kafka.Kafka /x/b/1/server.properties",
            "/b/1/server.properties"
        ));
        assert!(m(
            "java kafka.Kafka config/server.properties",
            "/opt/kafka/config/server.properties"
        ));
        assert!(!m(
            "java other.Main /b/1/server.properties",
            "/b/1/server.properties"
        ));
        assert!(cmdline_matches(
            b"java\0kafka.Kafka\0x",
            "kafka.Kafka",
            None
        ));
    }

    #[test]
    fn picks_the_broker_whose_command_line_names_its_properties() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fake_process(
            root,
            100,
            'S',
            "java -cp x kafka.Kafka /b/1/server.properties",
            10,
            5,
        );
        fake_process(
            root,
            200,
            'S',
            "java -cp x kafka.Kafka /b/2/server.properties",
            10,
            5,
        );
        fake_process(
            root,
            300,
            'S',
            "java -cp x other.Main /b/2/server.properties",
            10,
            5,
        );
        let mut c = ProcessCollector::new(root, finder("/b/2/server.properties"));
        let s = c.sample(None).unwrap();
        assert_eq!(s.state, ProcessState::Running);
        assert_eq!(s.pid, Some(200));
        assert_eq!(s.threads, Some(42));
        assert_eq!(s.open_fds, Some(3));
        assert_eq!(s.rss_bytes, Some(25_000 * procfs::page_size()));
        assert_eq!(s.cpu_percent, None, "no rate on the first sample");
    }

    #[test]
    fn stopped_gone_and_cpu_rate() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fake_process(root, 100, 'S', "java kafka.Kafka /p", 0, 5);
        let mut c = ProcessCollector::new(root, finder("/p"));
        let t0 = Instant::now();
        c.sample_at(t0, None).unwrap();
        // One second of CPU over two seconds: 50 %.
        let tps = procfs::ticks_per_second();
        fake_process(root, 100, 'T', "java kafka.Kafka /p", tps, 5);
        let s = c
            .sample_at(t0 + std::time::Duration::from_secs(2), None)
            .unwrap();
        assert_eq!(s.state, ProcessState::Stopped);
        assert_eq!(s.cpu_percent, Some(50.0));

        std::fs::remove_dir_all(root.join("100")).unwrap();
        assert_eq!(c.sample(None).unwrap().state, ProcessState::Gone);
        fake_process(root, 101, 'Z', "java kafka.Kafka /p", 0, 9);
        assert_eq!(c.sample(None).unwrap().state, ProcessState::Gone);
    }

    #[test]
    fn a_broker_killed_unreaped_then_restarted_is_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fake_process(root, 100, 'S', "java kafka.Kafka /p", 0, 5);
        let mut c = ProcessCollector::new(root, finder("/p"));
        assert_eq!(c.sample(None).unwrap().pid, Some(100));
        // SIGKILLed, and its parent has not reaped it yet: a zombie with the same start time
        // (and, as the kernel shows a zombie, an empty command line).
        fake_process(root, 100, 'Z', "", 0, 5);
        assert_eq!(c.sample(None).unwrap().state, ProcessState::Gone);
        // The broker is started again while the zombie lingers: the new process is the broker.
        fake_process(root, 200, 'S', "java kafka.Kafka /p", 0, 9);
        let s = c.sample(None).unwrap();
        assert_eq!((s.state, s.pid), (ProcessState::Running, Some(200)));
    }

    #[test]
    fn a_recycled_pid_is_not_the_broker() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fake_process(root, 100, 'S', "java kafka.Kafka /p", 0, 5);
        let mut c = ProcessCollector::new(root, finder("/p"));
        assert_eq!(c.sample(None).unwrap().pid, Some(100));
        fake_process(root, 100, 'S', "sleep 100", 0, 77);
        assert_eq!(c.sample(None).unwrap().state, ProcessState::Gone);
    }

    #[test]
    fn pid_file_wins_and_uptime_uses_boot_time() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fake_process(root, 100, 'R', "anything", 0, 0);
        let pid_file = root.join("kafka.pid");
        std::fs::write(&pid_file, "100\n").unwrap();
        let mut c = ProcessCollector::new(root, Finder::PidFile(pid_file.clone()));
        let boot = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 3_600;
        let s = c.sample(Some(boot)).unwrap();
        assert_eq!(s.pid, Some(100));
        let uptime = s.uptime_secs.unwrap();
        assert!((3_599..=3_601).contains(&uptime), "{uptime}");

        std::fs::write(&pid_file, "garbage").unwrap();
        assert!(matches!(c.sample(None), Err(Error::Parse { .. })));
        std::fs::remove_file(&pid_file).unwrap();
        assert_eq!(c.sample(None).unwrap().state, ProcessState::Gone);
    }
}
