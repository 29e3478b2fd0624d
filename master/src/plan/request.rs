//! What the planner is asked to do.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::text::list;

/// A planner request, produced by the policy (or an operator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Request {
    /// Move every replica off these confirmed-dead brokers.
    Heal {
        /// Broker ids confirmed dead.
        dead: Vec<i32>,
    },
    /// Bring every broker under its network limits and within the target ratio of the mean.
    Balance,
    /// Leadership handed off brokers over their own configured net-out limit until they are a
    /// margin under it, by elections (and zero-byte reorders) only, no data copied. The policy
    /// asks for this first when a broker is overloaded, and for [`Request::Relieve`] only if it
    /// is still over after.
    BalanceLeaders,
    /// Bring these overloaded brokers under their own net in, net out and disk limits with the
    /// fewest bytes moved (`relieve.rs`): elections first, then replica moves off them only,
    /// onto brokers that stay under their limits and within the target ratio. What the policy
    /// asks for an overload that elections did not clear (not [`Request::Balance`], which
    /// evens the whole cluster).
    Relieve {
        /// Broker ids to relieve.
        brokers: Vec<i32>,
    },
    /// Drain these (alive) brokers of all replicas.
    Decommission {
        /// Broker ids to drain.
        brokers: Vec<i32>,
    },
    /// Spread each topic's leaders evenly across racks, by elections only.
    SpreadLeaders,
    /// Elect the preferred leader (first replica) of every partition whose preferred leader is
    /// alive and in sync but not leading. Elections only, no moves (`preferred.rs`).
    PreferredLeaders,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Heal { dead } => write!(f, "heal dead brokers {}", list(dead)),
            Request::Balance => f.write_str("balance network load"),
            Request::BalanceLeaders => f.write_str("balance network load by elections only"),
            Request::Relieve { brokers } => {
                write!(f, "relieve overloaded brokers {}", list(brokers))
            }
            Request::Decommission { brokers } => {
                write!(f, "decommission brokers {}", list(brokers))
            }
            Request::SpreadLeaders => f.write_str("spread leaders across racks"),
            Request::PreferredLeaders => f.write_str("elect preferred leaders"),
        }
    }
}
