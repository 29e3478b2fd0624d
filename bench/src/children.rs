//! The children of `kmedic-bench all`: each step's process runs in its own process group, so
//! one signal stops it and everything it started; SIGINT and SIGTERM are caught and turned
//! into stopping every running group (SIGTERM, SIGKILL 10 s later).

use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::all::root;

/// Set by SIGINT or SIGTERM.
pub fn watch_signals() -> Result<Arc<AtomicBool>> {
    use tokio::signal::unix::{signal, SignalKind};
    let stop = Arc::new(AtomicBool::new(false));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal watcher")?;
    let (mut int, mut term) = {
        let _g = rt.enter();
        (
            signal(SignalKind::interrupt()).context("catching SIGINT")?,
            signal(SignalKind::terminate()).context("catching SIGTERM")?,
        )
    };
    let flag = Arc::clone(&stop);
    std::thread::spawn(move || {
        rt.block_on(async {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        });
        eprintln!("kmedic-bench all: stopping every step");
        flag.store(true, Ordering::SeqCst);
    });
    Ok(stop)
}

/// A running child in its own process group; its group is stopped on drop.
pub struct Running {
    pub name: String,
    child: Child,
    done: Option<ExitStatus>,
}

impl Running {
    pub fn spawn(
        name: &str,
        cmd: &mut Command,
        stdout: Option<&Path>,
        log: &Path,
    ) -> Result<Running> {
        let err = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let out = match stdout {
            Some(p) => {
                Stdio::from(File::create(p).with_context(|| format!("creating {}", p.display()))?)
            }
            None => Stdio::from(err.try_clone()?),
        };
        let child = cmd
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}: {cmd:?}"))?;
        Ok(Running {
            name: name.to_owned(),
            child,
            done: None,
        })
    }

    fn poll(&mut self) -> Result<Option<ExitStatus>> {
        if self.done.is_none() {
            self.done = self.child.try_wait()?;
        }
        Ok(self.done)
    }

    /// SIGTERM to the whole group, SIGKILL after 10 s if it is still there.
    pub fn stop(&mut self) {
        if self.done.is_some() {
            return;
        }
        let pg = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(pg, Signal::SIGTERM);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(s)) = self.child.try_wait() {
                self.done = Some(s);
                // The leader is gone; members it started may linger: SIGKILL the group.
                let _ = killpg(pg, Signal::SIGKILL);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = killpg(pg, Signal::SIGKILL);
        self.done = self.child.wait().ok();
        eprintln!("{}: killed after 10 s", self.name);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits for every child; stops them all on a signal. `Err` names the first failure.
pub fn wait_all(children: &mut [Running], stop: &AtomicBool) -> Result<()> {
    loop {
        if stop.load(Ordering::SeqCst) {
            children.iter_mut().for_each(Running::stop);
            bail!("stopped by a signal");
        }
        let mut all = true;
        for c in children.iter_mut() {
            match c.poll()? {
                Some(s) if !s.success() => {
                    let name = c.name.clone();
                    children.iter_mut().for_each(Running::stop);
                    bail!("{name} exited with {s}");
                }
                Some(_) => {}
                None => all = false,
            }
        }
        if all {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
