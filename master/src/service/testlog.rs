//! Log capture for tests that count the lines an operator would read.
//!
//! Why not a bare `with_default`: tracing caches each callsite's interest once, process-wide,
//! when the callsite is first hit, and while exactly one dispatcher is registered it asks the
//! *hitting thread's* default. A sibling test with no subscriber that hits a callsite first
//! (another round, the policy's decision log) while this capture's subscriber is the only one
//! registered caches `never` for it, and the capture loses that line for the rest of the call
//! (the round test that counts `planned (` and `finding:` lines failed once so in a parallel
//! run). An anchor dispatcher kept for the whole process means two are always registered, so
//! tracing asks every registered dispatcher, the capture's included.

use std::sync::{Arc, Mutex, OnceLock};

use tracing::Dispatch;

/// INFO-and-above lines (plain text, no time) written on this thread while `f` runs.
pub(crate) fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    static ANCHOR: OnceLock<Dispatch> = OnceLock::new();
    ANCHOR.get_or_init(|| Dispatch::new(tracing_subscriber::registry()));
    let buf = Buf::default();
    let w = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .without_time()
        .with_writer(move || w.clone())
        .finish();
    let out = tracing::subscriber::with_default(sub, || {
        // Callsites another thread cached as `never` before this subscriber existed are asked
        // again (Dispatch::new does this too; said here so it does not depend on that).
        tracing::callsite::rebuild_interest_cache();
        f()
    });
    let text =
        String::from_utf8_lossy(&buf.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    (out, text.lines().map(String::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A callsite only these tests hit.
    fn probe(n: u32) {
        tracing::info!(n, "testlog probe");
    }

    /// The failure of the bare `with_default` capture, made deterministic: a thread with no
    /// subscriber hits a fresh callsite first, while the capture runs.
    #[test]
    fn a_line_first_hit_by_a_thread_without_a_subscriber_is_still_captured() {
        let ((), lines) = capture(|| {
            std::thread::spawn(|| probe(1))
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            probe(2);
        });
        assert_eq!(
            lines.iter().filter(|l| l.contains("testlog probe")).count(),
            1,
            "{lines:#?}"
        );
    }
}
