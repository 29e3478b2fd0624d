//! The `[decommission]` section: what happens to a broker once an operator's decommission has
//! drained it (issue 8 item 4).

use serde::{Deserialize, Serialize};

/// Decommissioning brokers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecommissionConfig {
    /// Unregister a decommissioned broker (KRaft UnregisterBroker) once it holds no replica and
    /// has been shut down (fenced or gone from the cluster). Off by default: the broker then
    /// stays registered and cordoned until the operator deletes the decommission.
    #[serde(default)]
    pub unregister: bool,
}
