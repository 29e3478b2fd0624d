//! How the cluster loop persists the operator's mode changes (maintenance, dry-run, the
//! mass-failure override) in the action log before applying them. A child of `act`.

use std::sync::Arc;

use tracing::{error, warn};

use crate::actionlog::{self, ActionKind, ActionRecord};

/// Where the cluster loop persists the operator's mode changes (maintenance, dry-run).
#[derive(Clone)]
pub struct ModeLog {
    /// The log.
    pub log: Arc<dyn actionlog::Journal>,
    /// The cluster id the records are about.
    pub cluster_id: String,
    /// This master.
    pub master_id: String,
}

/// Writes an operator's maintenance, dry-run or mass-failure-override change to the action log
/// BEFORE it is applied. Returns whether to apply it: a change that only makes the master do
/// less (maintenance or dry-run ON, the override OFF) is applied even if the write failed; one
/// that lets it do more is refused when it could not be recorded (a restart would otherwise
/// bring back a mode the operator believes is off, or, worse, the master would act with nothing
/// recording that it may).
pub async fn record_mode(
    log: Option<&ModeLog>,
    cluster: &str,
    cmd: &crate::serve::Command,
) -> bool {
    use crate::serve::Command;
    let (mode, on) = match cmd {
        Command::SetMaintenance(on) => (actionlog::Mode::Maintenance, *on),
        Command::SetDryRun(on) => (actionlog::Mode::DryRun, *on),
        Command::SetMassFailureOverride(on) => (actionlog::Mode::MassFailureOverride, *on),
        _ => return true,
    };
    // Whether the change makes the master do less (safe to apply unrecorded).
    let does_less = on != matches!(mode, actionlog::Mode::MassFailureOverride);
    let Some(m) = log else {
        warn!(
            cluster,
            ?mode,
            on,
            "mode change applied but not persisted: no action log"
        );
        return true;
    };
    let rec = ActionRecord::state(
        &m.cluster_id,
        actionlog::record::new_action_id(&m.master_id),
        ActionKind::SetMode { mode, on },
        format!(
            "operator set {} {} through the API",
            mode_words(mode),
            if on { "on" } else { "off" }
        ),
        &m.master_id,
    );
    match m.log.record(&rec).await {
        Ok(()) => true,
        Err(e) if does_less => {
            error!(cluster, ?mode, on, error = %e,
                "mode change could not be recorded in the action log; applied anyway (it only \
                 makes the master do less), but a restart will not remember it");
            true
        }
        Err(e) => {
            error!(cluster, ?mode, on, error = %e,
                "mode change REFUSED: a change that lets the master act more must be recorded \
                 in the action log first; fix the log and send it again");
            false
        }
    }
}

/// A mode as an operator names it (the API's and the docs' words), for the record's reason.
fn mode_words(mode: actionlog::Mode) -> &'static str {
    match mode {
        actionlog::Mode::Maintenance => "maintenance",
        actionlog::Mode::DryRun => "dry-run",
        actionlog::Mode::MassFailureOverride => "the mass-failure override",
    }
}
