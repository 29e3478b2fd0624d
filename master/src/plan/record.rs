//! Recording decisions into the plan, and the plan's load figures.

use super::output::{LoadSummary, Move, Plan};
use super::reason::{MoveReason, UnplaceableReason};
use super::state::State;
use super::Unplaceable;

impl State<'_> {
    /// Records a move of `p` from its snapshot replicas to its current ones. When the plan
    /// already moves `p` (a reorder before an election, or another replica balance moved), that
    /// move takes the current replicas and the added bytes instead, so a partition has one
    /// move; a data move's reason replaces a zero-copy reorder's (the election keeps the why).
    pub fn record_move(&mut self, p: u32, bytes_to_copy: u64, reason: MoveReason) {
        let info = &self.snap.partitions[p as usize];
        self.bytes_left = self.bytes_left.saturating_sub(bytes_to_copy);
        tracing::trace!(
            topic = %self.snap.topic_name(info.topic),
            partition = info.partition,
            from = ?info.replicas,
            to = ?self.replica_ids(p),
            bytes_to_copy,
            %reason,
            "move planned"
        );
        let now = self.replica_ids(p);
        if let Some(m) = self.plan.moves.get_mut(self.move_ix[p as usize] as usize) {
            m.new_replicas = now;
            m.bytes_to_copy += bytes_to_copy;
            if matches!(m.reason, MoveReason::Reorder { .. }) {
                m.reason = reason;
            }
            return;
        }
        self.move_ix[p as usize] = self.plan.moves.len() as u32;
        self.plan.moves.push(Move {
            topic: self.snap.topic_name(info.topic).clone(),
            partition: info.partition,
            old_replicas: info.replicas.clone(),
            new_replicas: now,
            bytes_to_copy,
            reason,
        });
    }

    /// Records that the replica of `p` on broker index `b` could not be placed.
    pub fn record_unplaceable(&mut self, p: u32, b: u32, reason: UnplaceableReason) {
        let info = &self.snap.partitions[p as usize];
        tracing::debug!(
            topic = %self.snap.topic_name(info.topic),
            partition = info.partition,
            broker = self.ids[b as usize],
            %reason,
            "replica not placed"
        );
        self.plan.unplaceable.push(Unplaceable {
            topic: self.snap.topic_name(info.topic).clone(),
            partition: info.partition,
            replica: self.ids[b as usize],
            reason,
        });
    }

    /// Cluster mean utilization (load / capacity) of net in and out over brokers that accept load.
    pub fn mean_utilization(&self) -> (f64, f64) {
        let (mut li, mut lo, mut ci, mut co) = (0f64, 0f64, 0f64, 0f64);
        for b in 0..self.ids.len() {
            if self.accepts[b] {
                li += self.load[b].net_in as f64;
                lo += self.load[b].net_out as f64;
                ci += self.cap[b].net_in_bytes_per_sec as f64;
                co += self.cap[b].net_out_bytes_per_sec as f64;
            }
        }
        (ratio(li, ci), ratio(lo, co))
    }

    /// Balance figures over brokers that accept load.
    pub fn summary(&self) -> LoadSummary {
        let (mi, mo) = self.mean_utilization();
        let (mut xi, mut xo) = (0f64, 0f64);
        for b in 0..self.ids.len() {
            if self.accepts[b] {
                let c = &self.cap[b];
                xi = xi.max(ratio(
                    self.load[b].net_in as f64,
                    c.net_in_bytes_per_sec as f64,
                ));
                xo = xo.max(ratio(
                    self.load[b].net_out as f64,
                    c.net_out_bytes_per_sec as f64,
                ));
            }
        }
        LoadSummary {
            net_in_max_over_mean: ratio(xi, mi),
            net_out_max_over_mean: ratio(xo, mo),
            net_in_max_utilization: xi,
            net_out_max_utilization: xo,
        }
    }

    /// Finishes the plan: totals per broker, in id order.
    pub fn finish(mut self, before: LoadSummary) -> Plan {
        self.plan.totals.bytes_moved = self.plan.moves.iter().map(|m| m.bytes_to_copy).sum();
        for (b, m) in self.moves.iter().enumerate() {
            if m.incoming > 0 || m.outgoing > 0 {
                self.plan.totals.moves_per_broker.insert(self.ids[b], *m);
            }
        }
        self.plan.totals.before = before;
        self.plan.totals.after = self.summary();
        self.plan
    }
}

/// `a / b`, with 0 for an empty denominator (no capacity configured means no figure).
pub(super) fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}
