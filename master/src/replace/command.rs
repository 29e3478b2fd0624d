//! Running an external command safely (DESIGN rule 9): argv only (no shell, so a hostname with
//! `;` or `$(...)` is one argument and nothing else), a timeout that kills it, and stdout and
//! stderr captured up to a bound.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::actionlog::record::CommandOutput;

/// Runs `argv` (program first) with `timeout`, keeping at most `max_output` bytes of stdout and
/// of stderr. A command that cannot be started is reported as an output with no exit code and
/// the reason in `stderr`, so the caller records it like any other failure.
pub async fn run(argv: &[String], timeout: Duration, max_output: usize) -> CommandOutput {
    let start = Instant::now();
    let mut out = CommandOutput {
        argv: argv.to_vec(),
        exit_code: None,
        timed_out: false,
        duration_ms: 0,
        stdout: String::new(),
        stderr: String::new(),
        truncated: false,
    };
    let Some((program, args)) = argv.split_first() else {
        out.stderr = "empty command".into();
        return out;
    };
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so the timeout kills what it started too.
        .process_group(0)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            out.stderr = format!("cannot start {program:?}: {e}");
            return out;
        }
    };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let read_out = tokio::spawn(read_bounded(stdout, max_output));
    let read_err = tokio::spawn(read_bounded(stderr, max_output));
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => out.exit_code = status.code(),
        Ok(Err(e)) => out.stderr = format!("waiting for {program:?} failed: {e}"),
        Err(_) => {
            out.timed_out = true;
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                use nix::sys::signal::{killpg, Signal};
                // The group may be gone already; the direct kill below reaps the child.
                let _ = killpg(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
            if let Err(e) = child.kill().await {
                tracing::warn!(program = %program, error = %e, "could not kill the timed-out command");
            }
        }
    }
    // A grandchild may hold the pipes open after the kill: give the readers a moment, no more.
    let grace = Duration::from_secs(2);
    let (o, t1) = tokio::time::timeout(grace, read_out)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let (e, t2) = tokio::time::timeout(grace, read_err)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    out.stdout = o;
    if out.stderr.is_empty() {
        out.stderr = e;
    }
    out.truncated = t1 || t2;
    out.duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    out
}

/// Reads a pipe to its end, keeping the first `max` bytes; says whether it cut.
async fn read_bounded<R: AsyncRead + Unpin>(pipe: Option<R>, max: usize) -> (String, bool) {
    let Some(mut pipe) = pipe else {
        return (String::new(), false);
    };
    let mut kept = Vec::new();
    let mut cut = false;
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = max.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                cut |= n > room;
            }
        }
    }
    (String::from_utf8_lossy(&kept).into_owned(), cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        // The test's own script is run by sh explicitly; the runner itself never uses a shell.
        vec!["sh".into(), "-c".into(), script.into(), "script".into()]
    }

    #[tokio::test]
    async fn shell_metacharacters_arrive_as_one_argument() {
        let mut argv = sh(r#"for a in "$@"; do printf '<%s>\n' "$a"; done"#);
        let evil = "b1; touch /tmp/kmedic-pwned $(id) `id` | cat > x && echo";
        argv.extend(["7".to_string(), evil.to_string(), "c 1".to_string()]);
        let out = run(&argv, Duration::from_secs(10), 4096).await;
        assert!(out.success(), "{out:?}");
        assert_eq!(out.stdout, format!("<7>\n<{evil}>\n<c 1>\n"));
        assert!(!std::path::Path::new("/tmp/kmedic-pwned").exists());
    }

    #[tokio::test]
    async fn timeout_kills_the_command() {
        let start = Instant::now();
        let out = run(
            &sh("echo started; sleep 30"),
            Duration::from_millis(300),
            4096,
        )
        .await;
        assert!(out.timed_out && !out.success(), "{out:?}");
        assert_eq!(out.exit_code, None);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn output_is_bounded_and_exit_code_kept() {
        let out = run(
            &sh("head -c 100000 /dev/zero | tr '\\0' a; echo err >&2; exit 3"),
            Duration::from_secs(10),
            1000,
        )
        .await;
        assert_eq!(out.exit_code, Some(3));
        assert_eq!(out.stdout.len(), 1000);
        assert!(out.truncated);
        assert_eq!(out.stderr, "err\n");
    }

    #[tokio::test]
    async fn a_missing_program_is_a_failure_not_a_panic() {
        let out = run(
            &["/nonexistent/kmedic-replace".to_string()],
            Duration::from_secs(1),
            100,
        )
        .await;
        assert!(!out.success());
        assert!(out.stderr.contains("cannot start"), "{out:?}");
    }
}
