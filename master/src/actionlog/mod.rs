//! The action log: every action written to a Kafka topic before it is taken, its outcome after,
//! and mode / decommission changes as state records (issue 8 item 2; DESIGN rules 5, 7 and 8).
//!
//! - [`record`]: the JSON record (stable field names).
//! - [`writer`]: the transactional producer ([`ActionLog`]); it is also the fence between masters.
//! - [`replay`]: reading the log back at start and folding it into what to restore.
//! - [`ExecutorJournal`]: the executor's `execute::Journal` hook, written through the log.
//! - [`Journal`]: the hook the executor and the replacement runner call before and after acting;
//!   [`ActionLog`] implements it, [`MemoryJournal`] is for tests.

pub mod executor;
pub mod history;
pub mod record;
pub mod replay;
pub mod writer;

use std::sync::Mutex;

use futures::future::BoxFuture;

pub use executor::ExecutorJournal;
pub use history::ActionHistory;
pub use record::{ActionKind, ActionRecord, Mode, Outcome, OutcomeStatus, PartitionRef, Phase};
pub use replay::{restore, ClusterState, Replacement, Restored};
pub use writer::ActionLog;

/// Errors from the action log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another master holds the fence: this one must not act again.
    #[error("fenced: another master with the same action_log.transactional_id took over; this master takes no further action")]
    Fenced,
    /// A Kafka operation failed (the write did not happen; nothing was acted on).
    #[error("action log: cannot {op}: {source}")]
    Kafka {
        /// What was being done.
        op: &'static str,
        /// The client's error.
        source: rdkafka::error::KafkaError,
    },
    /// The topic could not be created; the message says how to fix it.
    #[error("action log: {0}")]
    Topic(String),
    /// Reading back took too long.
    #[error("action log: {0}")]
    Timeout(String),
    /// A blocking task failed.
    #[error("action log: internal task failed: {0}")]
    Task(String),
}

impl Error {
    /// True for [`Error::Fenced`].
    pub fn is_fenced(&self) -> bool {
        matches!(self, Error::Fenced)
    }
}

/// Where intents and outcomes go. The caller writes the intent and acts only if it returned
/// `Ok`; an `Err` (above all [`Error::Fenced`]) means: do not act.
pub trait Journal: Send + Sync {
    /// Writes one record, durably, before returning `Ok`.
    fn record<'a>(&'a self, rec: &'a ActionRecord) -> BoxFuture<'a, Result<(), Error>>;
    /// True once this journal is fenced (no further action may be taken).
    fn is_fenced(&self) -> bool;
}

impl Journal for ActionLog {
    fn record<'a>(&'a self, rec: &'a ActionRecord) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.write(rec))
    }
    fn is_fenced(&self) -> bool {
        ActionLog::is_fenced(self)
    }
}

/// An in-memory journal for tests: keeps records, and can be fenced on demand.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    records: Mutex<Vec<ActionRecord>>,
    fenced: std::sync::atomic::AtomicBool,
}

impl MemoryJournal {
    /// The records written so far.
    pub fn records(&self) -> Vec<ActionRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    /// From now on every write fails with [`Error::Fenced`].
    pub fn fence(&self) {
        self.fenced.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Journal for MemoryJournal {
    fn record<'a>(&'a self, rec: &'a ActionRecord) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if self.is_fenced() {
                return Err(Error::Fenced);
            }
            self.records
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(rec.clone());
            Ok(())
        })
    }
    fn is_fenced(&self) -> bool {
        self.fenced.load(std::sync::atomic::Ordering::SeqCst)
    }
}
