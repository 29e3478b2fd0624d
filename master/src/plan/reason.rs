//! Why the planner did, or could not do, each thing. Every reason is typed, carries its figures
//! and prints as one line an operator can read in the logs and the UI (pd's `plan/` habit).

use std::fmt;

use serde::Serialize;

/// A resource the balancer evens out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Resource {
    /// Bytes per second into the broker.
    NetIn,
    /// Bytes per second out of the broker.
    NetOut,
    /// Bytes on the broker's disks (for this resource the `*_bytes_per_sec` figures of a
    /// reason or warning are bytes).
    Disk,
}

impl Resource {
    /// The unit of this resource's figures.
    pub fn unit(self) -> &'static str {
        match self {
            Resource::NetIn | Resource::NetOut => "B/s",
            Resource::Disk => "B",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::NetIn => "net in",
            Resource::NetOut => "net out",
            Resource::Disk => "disk",
        })
    }
}

/// Why a replica is moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub enum MoveReason {
    /// The replica was on a confirmed-dead broker.
    Heal {
        /// The dead broker.
        from: i32,
    },
    /// The replica was on a broker being decommissioned.
    Decommission {
        /// The draining broker.
        from: i32,
    },
    /// The source broker was over its balance limit for `resource`.
    Balance {
        /// Overloaded broker.
        from: i32,
        /// Which resource was over.
        resource: Resource,
        /// Source load before this move, bytes/s.
        load_bytes_per_sec: u64,
        /// Source limit (min of capacity and target ratio x mean), bytes/s.
        limit_bytes_per_sec: u64,
    },
    /// The source broker was named in a [`crate::plan::Request::Relieve`] (an overload) and
    /// was over its own configured limit for `resource`: only its replicas move, the fewest
    /// bytes that bring it under.
    Relieve {
        /// Overloaded broker.
        from: i32,
        /// Which resource was over.
        resource: Resource,
        /// Source load before this move, bytes/s (bytes for disk).
        load_bytes_per_sec: u64,
        /// The broker's configured limit (net capacity, or disk x max_disk_utilization).
        limit_bytes_per_sec: u64,
        /// The figure the load was over when the move was chosen, the one relief works the
        /// broker down to: 90 % of `limit_bytes_per_sec` for net in and out (the margin,
        /// `balance::HEADROOM`), the limit itself for disk, or balance's tighter target
        /// (`target_ratio` x the mean) when relieving to that copied fewer bytes.
        over_bytes_per_sec: u64,
    },
    /// The other half of a replica swap (`swap.rs`): broker `over` was over its `resource`
    /// limit and no single move fitted, so a big replica left it for broker `with`, and this
    /// smaller one goes from `with` to `over` to keep `with` within its limits.
    Swap {
        /// The broker over its limit (this replica's target).
        over: i32,
        /// The broker that took the big replica (this replica's source).
        with: i32,
        /// Which resource `over` was over.
        resource: Resource,
    },
    /// Replica counts (`counts.rs`): `from` holds more replicas than the band allows, or `to`
    /// fewer, and this is the smallest replica that fits `to` within every limit.
    ReplicaCount {
        /// Broker giving the replica.
        from: i32,
        /// Broker taking it.
        to: i32,
        /// Replicas on `from` before.
        from_replicas: u32,
        /// Replicas on `to` before.
        to_replicas: u32,
        /// The band: fewest and most replicas a broker should hold.
        low: u32,
        /// See `low`.
        high: u32,
    },
    /// Zero-copy reorder of the replica list so `preferred` becomes the preferred leader; an
    /// [`crate::plan::Election`] follows and carries the why.
    Reorder {
        /// Broker put first.
        preferred: i32,
    },
}

impl fmt::Display for MoveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MoveReason::Heal { from } => write!(f, "heal: replica was on dead broker {from}"),
            MoveReason::Decommission { from } => {
                write!(f, "decommission: draining broker {from}")
            }
            MoveReason::Balance {
                from,
                resource,
                load_bytes_per_sec,
                limit_bytes_per_sec,
            } => write!(
                f,
                "balance: broker {from} {resource} {load_bytes_per_sec} {u} over its balance limit {limit_bytes_per_sec} {u}",
                u = resource.unit()
            ),
            MoveReason::Relieve {
                from,
                resource,
                load_bytes_per_sec: load,
                limit_bytes_per_sec: limit,
                over_bytes_per_sec: over,
            } => {
                let u = resource.unit();
                write!(f, "relieve: broker {from} {resource} {load} {u} over ")?;
                if over == limit {
                    write!(f, "its configured limit {limit} {u}")
                } else if *over == super::balance::headroom(*limit) {
                    write!(f, "90 % of its configured limit {limit} {u} ({over} {u})")
                } else {
                    write!(
                        f,
                        "{over} {u} (its balance limit, target_ratio x the mean; configured limit {limit} {u})"
                    )
                }
            }
            MoveReason::Swap {
                over,
                with,
                resource,
            } => write!(
                f,
                "balance swap: broker {over} over its {resource} limit took this smaller replica from broker {with} in exchange for a bigger one"
            ),
            MoveReason::ReplicaCount {
                from,
                to,
                from_replicas,
                to_replicas,
                low,
                high,
            } => write!(
                f,
                "balance replica counts: broker {from} holds {from_replicas}, broker {to} {to_replicas}, band {low}..{high}"
            ),
            MoveReason::Reorder { preferred } => {
                write!(f, "reorder replicas (zero copy) so broker {preferred} is preferred leader")
            }
        }
    }
}

/// Why a leader election is planned.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub enum ElectionReason {
    /// The leader's net out is over its limit; leadership goes to another in-sync replica.
    Balance {
        /// Current (overloaded) leader.
        from: i32,
        /// Leader net out before, bytes/s.
        load_bytes_per_sec: u64,
        /// Its limit, bytes/s.
        limit_bytes_per_sec: u64,
        /// Whether the new leader already was the preferred one (a plain preferred election).
        preferred: bool,
    },
    /// The topic has too many leaders in one rack and too few in another.
    SpreadLeaders {
        /// Rack losing a leader.
        from_rack: String,
        /// Rack gaining it.
        to_rack: String,
        /// Topic's leaders in `from_rack` before.
        from_rack_leaders: u32,
        /// Topic's leaders in `to_rack` before.
        to_rack_leaders: u32,
    },
    /// Leader counts (`counts.rs`): `from` leads more partitions than the band allows, or `to`
    /// fewer; `to` is an in-sync replica with net-out room.
    LeaderCount {
        /// Current leader.
        from: i32,
        /// New leader.
        to: i32,
        /// Partitions `from` led before.
        from_leaders: u32,
        /// Partitions `to` led before.
        to_leaders: u32,
        /// The band: fewest and most partitions a broker should lead.
        low: u32,
        /// See `low`.
        high: u32,
    },
    /// One election of a chain (`counts/leaders/chain.rs`): one leadership leaves `over`
    /// (above the band) and reaches `under` (below its top); the brokers between hand one on
    /// for each they take, so they lead as many as before.
    LeaderChain {
        /// The broker above the band.
        over: i32,
        /// Partitions `over` led before the chain.
        over_leaders: u32,
        /// The broker below the band's top at the chain's end.
        under: i32,
        /// Partitions `under` led before the chain.
        under_leaders: u32,
        /// The band: fewest and most partitions a broker should lead.
        low: u32,
        /// See `low`.
        high: u32,
    },
    /// The preferred leader (first replica) is alive and in sync but does not lead.
    Preferred {
        /// The preferred leader.
        preferred: i32,
    },
}

impl fmt::Display for ElectionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElectionReason::Balance {
                from,
                load_bytes_per_sec,
                limit_bytes_per_sec,
                preferred,
            } => write!(
                f,
                "balance: leader {from} net out {load_bytes_per_sec} B/s over limit {limit_bytes_per_sec} B/s{}",
                if *preferred { " (preferred leader election)" } else { "" }
            ),
            ElectionReason::SpreadLeaders {
                from_rack,
                to_rack,
                from_rack_leaders,
                to_rack_leaders,
            } => write!(
                f,
                "spread leaders: rack {from_rack} leads {from_rack_leaders}, rack {to_rack} leads {to_rack_leaders}"
            ),
            ElectionReason::LeaderCount {
                from,
                to,
                from_leaders,
                to_leaders,
                low,
                high,
            } => write!(
                f,
                "balance leader counts: broker {from} leads {from_leaders}, broker {to} {to_leaders}, band {low}..{high}"
            ),
            ElectionReason::LeaderChain {
                over,
                over_leaders,
                under,
                under_leaders,
                low,
                high,
            } => write!(
                f,
                "balance leader counts along a chain: broker {over} leads {over_leaders}, broker {under} {under_leaders}, band {low}..{high}"
            ),
            ElectionReason::Preferred { preferred } => write!(
                f,
                "preferred leader {preferred} is alive and in sync but not leading"
            ),
        }
    }
}

/// Counts of candidate target brokers rejected, by the first filter each failed: the figures
/// behind [`UnplaceableReason::NoTarget`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Rejections {
    /// Brokers looked at.
    pub considered: u32,
    /// Not alive (dead, suspect or decommissioning).
    pub not_alive: u32,
    /// Already host a replica of the partition.
    pub hosts_partition: u32,
    /// Their disk capacity is unknown this round (log dirs not described): they may be full.
    pub disk_unknown: u32,
    /// In a rack the partition already uses (with enough racks for distinct placement).
    pub rack_conflict: u32,
    /// Would go over net in capacity or balance limit.
    pub net_in_full: u32,
    /// Would go over net out capacity or balance limit.
    pub net_out_full: u32,
    /// Would go over the disk utilization limit.
    pub disk_full: u32,
    /// Reached the per-broker move limit.
    pub move_limit: u32,
}

impl fmt::Display for Rejections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} brokers considered: {} not alive, {} host the partition, {} disk capacity unknown this round, {} rack conflict, {} net in full, {} net out full, {} disk full, {} at move limit",
            self.considered,
            self.not_alive,
            self.hosts_partition,
            self.disk_unknown,
            self.rack_conflict,
            self.net_in_full,
            self.net_out_full,
            self.disk_full,
            self.move_limit
        )
    }
}

/// Why a replica that should move could not be placed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub enum UnplaceableReason {
    /// Kafka reports a reassignment in progress (rule 2).
    Reassigning,
    /// The master has a move in flight for this partition.
    InFlight,
    /// No live leader to copy data from.
    Offline,
    /// Every candidate broker was rejected; the figures say why.
    NoTarget(Rejections),
    /// The cluster has at least RF racks, so the replica must stay in a rack of its own, and no
    /// such rack (its own, or one the partition does not use) has a broker that accepts load:
    /// they are dead, suspect, draining or unknown. Placing it elsewhere would put two replicas
    /// in one rack for good (DESIGN.md rule 1), so it is left for an alert.
    RackUnavailable {
        /// The racks the replica may go to, none with a healthy broker.
        racks: Vec<String>,
    },
    /// The plan's byte budget is spent.
    ByteBudget {
        /// Bytes this move needs.
        needed_bytes: u64,
        /// Bytes left in the budget.
        remaining_bytes: u64,
    },
    /// An earlier request of the same round already moved this partition (one move per
    /// partition per plan); the next round moves this replica.
    AlreadyPlanned,
    /// The source broker reached its per-plan move limit.
    SourceMoveLimit {
        /// The limit.
        limit: u32,
    },
}

impl UnplaceableReason {
    /// Whether this is about the moment (the partition is busy, or this plan's budget or move
    /// limit is spent) rather than about capacity or safety: the next round places it, so it
    /// needs no person.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            UnplaceableReason::Reassigning
                | UnplaceableReason::InFlight
                | UnplaceableReason::AlreadyPlanned
                | UnplaceableReason::ByteBudget { .. }
                | UnplaceableReason::SourceMoveLimit { .. }
        )
    }
}

impl fmt::Display for UnplaceableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnplaceableReason::Reassigning => f.write_str("partition is reassigning"),
            UnplaceableReason::InFlight => f.write_str("a move for this partition is in flight"),
            UnplaceableReason::AlreadyPlanned => f.write_str(
                "partition already moved by an earlier request of this round; next round",
            ),
            UnplaceableReason::Offline => {
                f.write_str("partition is offline: no leader to copy from")
            }
            UnplaceableReason::NoTarget(r) => write!(f, "no target broker: {r}"),
            UnplaceableReason::RackUnavailable { racks } => write!(
                f,
                "rack has no healthy broker: {} (co-locating replicas in another rack is never done)",
                racks.join(", ")
            ),
            UnplaceableReason::ByteBudget {
                needed_bytes,
                remaining_bytes,
            } => write!(
                f,
                "byte budget spent: needs {needed_bytes} B, {remaining_bytes} B left"
            ),
            UnplaceableReason::SourceMoveLimit { limit } => {
                write!(f, "source broker reached its limit of {limit} moves")
            }
        }
    }
}

/// Something about the plan as a whole an operator should know.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub enum Warning {
    /// A broker named in the request is not in the snapshot.
    UnknownBroker {
        /// The id asked for.
        id: i32,
    },
    /// A broker is still over its limit after the plan.
    StillOverLimit {
        /// The broker.
        broker: i32,
        /// Which resource.
        resource: Resource,
        /// Projected load after the plan, bytes/s.
        load_bytes_per_sec: u64,
        /// Its limit, bytes/s.
        limit_bytes_per_sec: u64,
    },
    /// An elections-only plan ([`crate::plan::Request::BalanceLeaders`], an overload's first
    /// answer) made no election off a broker over its configured network limit: the elections
    /// there is room for would not bring it under the limit (the rule: elections alone must clear
    /// the whole excess, or they only churn leadership that relief or the leader spread moves
    /// again; relief elects them too, with the moves that finish the job).
    ElectionsCannotRelieve {
        /// The broker.
        broker: i32,
        /// The resource over its limit (net in: elections move none of it).
        resource: Resource,
        /// Its load, bytes/s.
        load_bytes_per_sec: u64,
        /// Its configured limit, bytes/s.
        limit_bytes_per_sec: u64,
        /// What the elections there is room for would take off it, bytes/s.
        clearable_bytes_per_sec: u64,
    },
    /// A preferred-leader election was skipped: leading would put the preferred leader above
    /// 90 % (`balance::HEADROOM`) of its net-out limit.
    PreferredWouldOverload {
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
        /// The preferred leader.
        broker: i32,
        /// Its net out after the election, bytes/s.
        load_bytes_per_sec: u64,
        /// Its limit, bytes/s.
        limit_bytes_per_sec: u64,
    },
    /// A heal or decommission placed replicas above the pre-drain peak (or the balance target):
    /// no broker of their allowed racks had room under it, and redundancy comes first.
    AbovePeak {
        /// Replicas placed above the peak.
        replicas: u32,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnknownBroker { id } => write!(f, "broker {id} is not in the cluster"),
            Warning::StillOverLimit {
                broker,
                resource,
                load_bytes_per_sec,
                limit_bytes_per_sec,
            } => write!(
                f,
                "broker {broker} {resource} still {load_bytes_per_sec} {u} over its limit {limit_bytes_per_sec} {u} after the plan (balance: target_ratio x the mean, never above its configured limit; relieve: its configured limit)",
                u = resource.unit()
            ),
            Warning::ElectionsCannotRelieve {
                broker,
                resource,
                load_bytes_per_sec: load,
                limit_bytes_per_sec: limit,
                clearable_bytes_per_sec: clear,
            } => write!(
                f,
                "broker {broker} {resource} {load} B/s is {} B/s over its configured limit {limit} B/s; elections could clear {clear} B/s of it: no election made (elections alone must bring a broker under its limit, or they only churn leadership; its relief elects with the moves that finish the job)",
                load.saturating_sub(*limit)
            ),
            Warning::PreferredWouldOverload {
                topic,
                partition,
                broker,
                load_bytes_per_sec,
                limit_bytes_per_sec,
            } => write!(
                f,
                "{topic}-{partition}: preferred leader {broker} not elected: net out would be {load_bytes_per_sec} B/s, above 90 % of its limit {limit_bytes_per_sec} B/s (the margin an overload's relief leaves)"
            ),
            Warning::AbovePeak { replicas } => write!(
                f,
                "{replicas} replicas placed above the pre-drain peak: no broker of their racks had room under it"
            ),
        }
    }
}
