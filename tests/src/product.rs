//! Plumbing for trials of the product itself: the BUILT `kmedic-agent` (one per broker) and
//! `kmedic-master` binaries as [`OwnedChild`] processes on a testbed, their JSON logs read back
//! as a log shipper would, a local webhook receiver for the master's alerts, and a small HTTP
//! client for the master's API.
//!
//! Every child is an [`OwnedChild`] (SIGTERM then SIGKILL on drop, PR_SET_PDEATHSIG), and the
//! receiver's thread stops when it is dropped: a failed trial leaves nothing behind.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{ensure, Context};
use serde_json::Value;

use crate::{wait_until, OwnedChild, Testbed};

mod spec;
pub use spec::{
    agent_config, toml_list, ActionLog, AgentStats, Execute, Limits, MasterSpec, Policy, Replace,
    Serve, MIN_HEAL_GRACE_SECS,
};

/// The stats topic both binaries default to.
pub const STATS_TOPIC: &str = "__kmedic_stats";

/// When set, the masters [`Master::start`] starts get it as `RUST_LOG`.
pub const MASTER_LOG_ENV: &str = "KMEDIC_E2E_MASTER_LOG";

/// When set, [`binary`] takes the binaries already in the target dir and builds nothing.
pub const PREBUILT_ENV: &str = "KMEDIC_E2E_PREBUILT";

/// Builds (once per run; a no-op when fresh) `package`'s binary of the same name next to the
/// running test binary, with the same profile, and returns its path.
pub fn binary(package: &'static str) -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Mutex<Vec<(&'static str, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = built.iter().find(|(n, _)| *n == package) {
        return Ok(p.clone());
    }
    // target/<profile>/deps/e2e-xxxx -> target/<profile>/<package>
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary has no target dir")?;
    let bin = profile_dir.join(package);
    // Binaries built beforehand, as they are (a shared tree that does not compile right now
    // cannot stop a run of what was built).
    if std::env::var_os(PREBUILT_ENV).is_some() {
        ensure!(
            bin.is_file(),
            "{PREBUILT_ENV} is set and there is no {}",
            bin.display()
        );
        built.push((package, bin.clone()));
        return Ok(bin);
    }
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "-q", "-p", package, "--bin", package])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo build")?;
    ensure!(status.success(), "cargo build -p {package} failed");
    ensure!(bin.is_file(), "no binary at {}", bin.display());
    built.push((package, bin.clone()));
    Ok(bin)
}

/// Either keeps a trial's folder (its configs and logs) for a look.
pub const KEEP_DIR_ENVS: [&str; 2] = ["KMEDIC_KEEP_TRIAL_DIR", "KMEDIC_E2E_KEEP_LOGS"];

/// A trial's folder, removed when dropped unless one of [`KEEP_DIR_ENVS`] is set: then kept,
/// and its path logged (`<what> logs kept`).
pub fn trial_dir(what: &str) -> anyhow::Result<tempfile::TempDir> {
    let mut dir = tempfile::tempdir()?;
    if let Some(env) = KEEP_DIR_ENVS.iter().find(|k| std::env::var_os(k).is_some()) {
        dir.disable_cleanup(true);
        tracing::info!(dir = %dir.path().display(), "{what} logs kept ({env})");
    }
    Ok(dir)
}

/// One agent per broker of `tb` with [`AgentStats::Quick`] timings (a trial sees every broker
/// in a few seconds). Logs go to `dir/agent-<id>.log`.
pub fn start_agents(tb: &Testbed, dir: &Path) -> anyhow::Result<Vec<OwnedChild>> {
    spawn_agents(&binary("kmedic-agent")?, tb, dir, AgentStats::Quick)
}

/// One agent (`bin`) per broker of `tb`, each with the broker's server.properties and the
/// stats cluster ([`agent_config`]), configs in `dir/agent-<id>.toml`, logs in
/// `dir/agent-<id>.log`.
pub fn spawn_agents(
    bin: &Path,
    tb: &Testbed,
    dir: &Path,
    stats: AgentStats,
) -> anyhow::Result<Vec<OwnedChild>> {
    let mut out = Vec::new();
    for id in tb.broker_ids() {
        let config = agent_config(&tb.server_properties(id), &tb.bootstrap(), stats);
        let path = dir.join(format!("agent-{id}.toml"));
        std::fs::write(&path, config)?;
        let mut cmd = Command::new(bin);
        cmd.arg("run")
            .arg("--config")
            .arg(&path)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("agent-{id}.log")))?);
        out.push(OwnedChild::spawn(cmd).context("starting kmedic-agent")?);
    }
    Ok(out)
}

/// A running master and its JSON log.
pub struct Master {
    /// The process.
    pub child: OwnedChild,
    /// Its log (`--log-format json`, one JSON object a line).
    pub log: PathBuf,
}

impl Master {
    /// Starts the built master with `spec` on `tb`, files in `dir`.
    pub fn start(tb: &Testbed, dir: &Path, spec: &MasterSpec) -> anyhow::Result<Self> {
        Self::spawn(&binary("kmedic-master")?, tb, dir, spec)
    }

    /// Starts the master `bin` with `spec` on `tb`: its config in `dir/<name>.toml`, its JSON
    /// log in `dir/<name>.log`.
    pub fn spawn(bin: &Path, tb: &Testbed, dir: &Path, spec: &MasterSpec) -> anyhow::Result<Self> {
        let path = dir.join(format!("{}.toml", spec.name));
        std::fs::write(&path, spec.render(dir, &tb.bootstrap()))?;
        let log = dir.join(format!("{}.log", spec.name));
        let mut cmd = Command::new(bin);
        cmd.args(["--log-format", "json", "run", "--config"])
            .arg(&path)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?);
        // The spec's filter (a trial's measurement needs its lines), else one for a look at a
        // run (the default is the master's own: info).
        let filter = spec
            .rust_log
            .clone()
            .or_else(|| std::env::var(MASTER_LOG_ENV).ok());
        if let Some(filter) = filter {
            cmd.env("RUST_LOG", filter);
        }
        let child = OwnedChild::spawn(cmd).context("starting kmedic-master")?;
        Ok(Self { child, log })
    }

    /// Its log lines, parsed (lines that are not JSON are skipped).
    pub fn lines(&self) -> Vec<Value> {
        log_lines(&self.log)
    }

    /// The last 40 lines of its log, for error messages.
    pub fn tail(&self) -> String {
        tail(&self.log)
    }

    /// Fails when the master has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        ensure!(!self.child.exited(), "the master exited:\n{}", self.tail());
        Ok(())
    }

    /// Waits for a summary line saying every broker of `tb` is ok (each one's agent stats in
    /// the master's model).
    pub fn wait_all_ok(&mut self, tb: &Testbed, timeout: Duration) -> anyhow::Result<()> {
        let n = tb.broker_ids().len() as u64;
        let mut last = String::new();
        let r = wait_until(timeout, "a master summary with every broker ok", || {
            self.check_running()?;
            let lines = self.lines();
            let s = lines
                .iter()
                .rev()
                .find(|l| field(l, "message") == "summary");
            if let Some(s) = s {
                last = s.to_string();
                return Ok(num(s, "ok") == Some(n) && num(s, "no_stats") == Some(0));
            }
            Ok(false)
        });
        r.with_context(|| format!("last summary: {last}\nlog tail:\n{}", self.tail()))
    }

    /// Waits until a log line satisfies `pred`, and returns it.
    pub fn wait_line(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let mut found = None;
        let r = wait_until(timeout, what, || {
            self.check_running()?;
            found = self.lines().into_iter().find(|l| pred(l));
            Ok(found.is_some())
        });
        r.with_context(|| format!("log tail:\n{}", self.tail()))?;
        found.context("no line")
    }
}

/// A JSON log's lines, parsed (lines that are not JSON are skipped).
pub fn log_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Whether `topic` exists on `tb`.
pub fn has_topic(tb: &Testbed, topic: &str) -> anyhow::Result<bool> {
    Ok(tb.metadata()?.partitions.iter().any(|p| p.topic == topic))
}

/// A JSON log's lines, parsed; a line that is not JSON is an error (`--log-format json` must
/// give nothing else).
pub fn strict_log_lines(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("not JSON: {l}")))
        .collect()
}

/// Sum of the `.log` segment files' lengths in a partition folder (0 when it is missing).
pub fn segment_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// A string field of a log line ("" when absent).
pub fn field<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// A number field of a log line.
pub fn num(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

/// The last 40 lines of a file.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A webhook receiver on 127.0.0.1: every POST's path and JSON body, answered 200. Its thread
/// stops when it is dropped.
pub struct Webhook {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<(String, Value)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Webhook {
    /// Listens on a free port.
    pub fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let got: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (g, s) = (got.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        if let Some(req) = serve_one(conn) {
                            g.lock().unwrap_or_else(|e| e.into_inner()).push(req);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(Self {
            addr,
            got,
            stop,
            thread: Some(thread),
        })
    }

    /// The URL of `path` on this receiver (`/generic`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything received so far: (path, body).
    pub fn received(&self) -> Vec<(String, Value)> {
        self.got.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one HTTP request (Content-Length body) and answers 200 with no body.
fn serve_one(mut conn: TcpStream) -> Option<(String, Value)> {
    conn.set_nonblocking(false).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let (head, mut body) = read_head(&mut conn)?;
    let path = head.split_whitespace().nth(1)?.to_string();
    let len = content_length(&head);
    while body.len() < len {
        let mut buf = [0u8; 4096];
        let n = conn.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Some((path, v))
}

/// The head (request or status line and headers) and the body bytes read past it.
fn read_head(conn: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_string();
            return Some((head, buf[i + 4..].to_vec()));
        }
        let mut chunk = [0u8; 4096];
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn content_length(head: &str) -> usize {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// One HTTP/1.1 request to `addr` (the master's API): the status and the JSON body (`Null`
/// when the body is not JSON). `token` goes in `Authorization: Bearer`.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = Vec::new();
    conn.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no HTTP status in {head:?}"))?;
    Ok((status, serde_json::from_str(rest).unwrap_or(Value::Null)))
}

/// A free TCP port on 127.0.0.1 (for the master's API).
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}
