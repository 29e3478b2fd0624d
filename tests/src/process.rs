//! Child processes: one long-lived spawner thread, parent-death signal, signals and /proc state.
//!
//! Why a spawner thread: PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not
//! the process. Tests spawn from short-lived threads (each libtest trial runs on its own), so every
//! JVM of a testbed is forked by one thread that lives exactly as long as the testbed.

use std::io;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

struct SpawnRequest {
    cmd: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

/// Forks every child from one dedicated thread, each with PR_SET_PDEATHSIG=SIGKILL.
pub(crate) struct Spawner {
    tx: Option<mpsc::Sender<SpawnRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl Spawner {
    /// Starts the spawner thread.
    pub(crate) fn new() -> io::Result<Self> {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        let thread = std::thread::Builder::new()
            .name("testbed-spawner".into())
            .spawn(move || {
                // Lives until the Testbed drops its sender; children die with this thread.
                for mut req in rx {
                    set_parent_death_signal(&mut req.cmd);
                    let _ = req.reply.send(req.cmd.spawn());
                }
            })?;
        Ok(Spawner {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Spawns `cmd` from the spawner thread.
    pub(crate) fn spawn(&self, cmd: Command) -> io::Result<Child> {
        let (reply, rx) = mpsc::channel();
        let gone = || io::Error::other("testbed spawner thread is gone");
        self.tx
            .as_ref()
            .ok_or_else(gone)?
            .send(SpawnRequest { cmd, reply })
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Makes the child get SIGKILL when the spawning thread exits, so a SIGKILLed test leaves no JVM.
#[allow(unsafe_code)]
fn set_parent_death_signal(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as i32;
    // SAFETY: the closure runs between fork and exec in the child. It only makes two raw syscalls
    // (prctl, getppid), which are async-signal-safe; it allocates nothing and takes no locks.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
            // The parent may have died between fork and prctl: then nobody would kill us later.
            if nix::unistd::getppid().as_raw() != parent {
                return Err(io::Error::other("testbed parent exited during spawn"));
            }
            Ok(())
        });
    }
}

/// Sends `sig` to `pid`.
pub(crate) fn signal(pid: u32, sig: Signal) -> nix::Result<()> {
    nix::sys::signal::kill(Pid::from_raw(pid as i32), sig)
}

/// The one-letter state of a process from /proc/PID/stat (R, S, D, T, t, Z, ...), or None if gone.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: the state follows the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.trim_start().chars().next()
}

/// True if a process with this pid exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    matches!(process_state(pid), Some(s) if s != 'Z' && s != 'X')
}

/// Waits up to `timeout` for `child` to exit; true if it did (and was reaped).
pub(crate) fn wait_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return true,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => return false,
            // ECHILD: already reaped elsewhere.
            Err(_) => return true,
        }
    }
}

/// Kills and reaps `child` (SIGCONT first, so a stopped JVM does not linger).
pub(crate) fn kill_and_reap(child: &mut Child) {
    let _ = signal(child.id(), Signal::SIGCONT);
    let _ = child.kill();
    let _ = child.wait();
}

/// The last `lines` lines of a log file, for error messages.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            all[start..].join("\n")
        }
        Err(e) => format!("(no log at {}: {e})", path.display()),
    }
}

/// A child process the test owns (a kmedic binary): forked with PR_SET_PDEATHSIG=SIGKILL from
/// its own spawner thread, so it dies even if the test process is SIGKILLed; on drop it gets
/// SIGTERM (a clean shutdown, up to 10 s), then SIGKILL, and is reaped.
pub struct OwnedChild {
    child: Child,
    // Dropped after the child is reaped: its thread is the child's parent for PDEATHSIG.
    _spawner: Spawner,
}

impl OwnedChild {
    /// Spawns `cmd`.
    pub fn spawn(cmd: Command) -> io::Result<Self> {
        let spawner = Spawner::new()?;
        let child = spawner.spawn(cmd)?;
        Ok(Self {
            child,
            _spawner: spawner,
        })
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited (reaping it if so).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)) | Err(_))
    }

    /// SIGTERM, then up to `grace` for a clean exit, then SIGKILL. True if it exited cleanly.
    pub fn stop(&mut self, grace: Duration) -> bool {
        let _ = signal(self.child.id(), Signal::SIGTERM);
        if wait_exit(&mut self.child, grace) {
            return true;
        }
        kill_and_reap(&mut self.child);
        false
    }
}

impl Drop for OwnedChild {
    fn drop(&mut self) {
        if !self.exited() {
            self.stop(Duration::from_secs(10));
        }
    }
}
