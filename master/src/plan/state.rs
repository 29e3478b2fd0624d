//! The planner's working state: dense broker indexes, flat replica arrays, per-broker load and
//! a per-broker partition index, all updated incrementally as moves are decided.
//!
//! Brokers are indexed by position in id order, racks by position in name order, partitions by
//! position in the snapshot. Nothing here iterates a hash map, so plans are deterministic.

use std::collections::HashMap;

use super::ids::IdIndex;

use super::output::{BrokerMoves, Election, Plan};
use super::reason::{ElectionReason, MoveReason, UnplaceableReason};
use super::snapshot::{BrokerState, Capacity, Snapshot};
use super::Limits;

/// "No broker" / "no rack" marker in the dense arrays.
pub(super) const NONE: u32 = u32::MAX;

/// Why a partition may not be touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Frozen {
    /// Free to plan.
    No,
    /// Kafka reports a reassignment (rule 2).
    Reassigning,
    /// A move of ours is in flight.
    InFlight,
}

impl Frozen {
    /// The unplaceable reason for a frozen partition.
    pub fn reason(self) -> Option<UnplaceableReason> {
        match self {
            Frozen::No => None,
            Frozen::Reassigning => Some(UnplaceableReason::Reassigning),
            Frozen::InFlight => Some(UnplaceableReason::InFlight),
        }
    }
}

/// One broker's projected load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Load {
    pub net_in: u64,
    pub net_out: u64,
    pub disk: u64,
}

/// Working state for one `plan()` call. Clone: relief (`relieve.rs`) tries several ways on
/// copies and keeps the cheapest.
#[derive(Clone)]
pub(super) struct State<'a> {
    pub snap: &'a Snapshot,
    pub limits: &'a Limits,
    // Brokers, by dense index (id order). Replica ids missing from `snap.brokers` are added as
    // unknown brokers with no rack that accept nothing.
    pub ids: Vec<i32>,
    idx_of: IdIndex,
    pub rack: Vec<u32>,
    pub rack_names: Vec<String>,
    /// Brokers of each rack, in id order.
    pub rack_brokers: Vec<Vec<u32>>,
    pub state: Vec<BrokerState>,
    pub cap: Vec<Capacity>,
    /// May receive replicas and leadership (alive, and not excluded by the request).
    pub accepts: Vec<bool>,
    /// Disk capacity reported this round; a broker without it receives no replicas.
    pub disk_known: Vec<bool>,
    pub load: Vec<Load>,
    /// Net in and out each broker may reach: capacity, tightened by balance to the target ratio.
    pub lim_in: Vec<u64>,
    pub lim_out: Vec<u64>,
    /// Disk each broker may reach: `max_disk_utilization` of capacity, tightened by balance
    /// and by heal's pre-failure peak.
    pub lim_disk: Vec<u64>,
    pub moves: Vec<BrokerMoves>,
    /// Partitions hosted by each broker (indexes into `snap.partitions`), unordered.
    pub hosted: Vec<Vec<u32>>,
    /// Racks holding at least one broker that accepts load (balance and spread-leaders).
    pub live_racks: usize,
    /// The cluster's rack count, for rack diversity (DESIGN.md rule 1): named racks of every
    /// broker in the snapshot, whatever its state, as the rack-violation detector counts them.
    /// A dead or hung AZ still counts, so losing it never turns diversity off. The "" rack (a
    /// broker without `broker.rack`, or one missing from DescribeCluster) counts only when no
    /// broker has a named rack.
    pub racks: usize,
    /// Per rack, the most net in any broker there can still take (limit minus load, over
    /// brokers that accept load and are under the move limit): lets target search skip a
    /// full rack without scanning it.
    pub rack_room: Vec<u64>,
    // Partitions, by index into `snap.partitions`; replicas flattened as broker indexes.
    repl_off: Vec<u32>,
    repl: Vec<u32>,
    /// Whether the replica in the same flat slot is in the ISR (as of the snapshot).
    in_sync: Vec<bool>,
    pub leader: Vec<u32>,
    /// Reassigning in Kafka, or a move of ours is in flight: never touched.
    pub frozen: Vec<Frozen>,
    /// Already moved or elected in this plan: not touched again, so each partition has at most
    /// one move and one election.
    pub touched: Vec<bool>,
    /// Index in `plan.moves` of the partition's move, or [`NONE`]: a second replica of the
    /// partition moved by balance joins that move, so each partition keeps one move.
    pub move_ix: Vec<u32>,
    pub bytes_left: u64,
    pub plan: Plan,
}

/// One broker as [`State::new`] reads it from the snapshot.
struct Row<'s> {
    id: i32,
    /// `None` for a replica id missing from the snapshot's brokers.
    rack: Option<&'s str>,
    state: BrokerState,
    cap: Capacity,
    disk_known: bool,
    disk_used: Option<u64>,
}

impl Row<'_> {
    /// A replica id the snapshot has no broker for: no rack, suspect, no capacity.
    fn unknown(id: i32) -> Self {
        let zero = Capacity {
            net_in_bytes_per_sec: 0,
            net_out_bytes_per_sec: 0,
            disk_bytes: 0,
        };
        Row {
            id,
            rack: None,
            state: BrokerState::Suspect,
            cap: zero,
            disk_known: false,
            disk_used: None,
        }
    }
}

impl<'a> State<'a> {
    /// Indexes the snapshot. `excluded` brokers (dead or draining per the request) accept nothing.
    pub fn new(snap: &'a Snapshot, limits: &'a Limits, excluded: &[i32]) -> Self {
        let mut brokers: Vec<Row<'a>> = snap
            .brokers
            .iter()
            .map(|b| Row {
                id: b.id,
                rack: Some(b.rack.as_str()),
                state: b.state,
                cap: b.capacity,
                disk_known: b.disk_known,
                disk_used: b.disk_used_bytes,
            })
            .collect();
        brokers.sort_by_key(|b| b.id);
        brokers.dedup_by_key(|b| b.id);
        // Replica ids missing from the broker list become unknown brokers. The direct table is
        // sized by the brokers' ids (a pass over every replica for their max cost a heal 10 %);
        // a larger unknown replica id goes to the index's map.
        let max_id = brokers.iter().map(|b| b.id).max().unwrap_or(0);
        let mut known = IdIndex::with_max(max_id);
        for b in &brokers {
            known.insert(b.id, 0);
        }
        let mut replica_count = 0;
        for p in &snap.partitions {
            replica_count += p.replicas.len();
            for &r in &p.replicas {
                if known.get(r).is_none() {
                    known.insert(r, 0);
                    brokers.push(Row::unknown(r));
                }
            }
        }
        brokers.sort_by_key(|b| b.id);
        let mut idx_of = known;
        for (i, b) in brokers.iter().enumerate() {
            idx_of.insert(b.id, i as u32);
        }
        let mut rack_names: Vec<String> = brokers
            .iter()
            .filter_map(|b| b.rack.map(str::to_owned))
            .collect();
        rack_names.sort();
        rack_names.dedup();
        let n = brokers.len();
        // Room for a fair share and a quarter more: the lists are not grown a push at a time.
        let per_broker = replica_count / n.max(1) + replica_count / (4 * n.max(1)) + 8;
        let mut st = State {
            snap,
            limits,
            ids: brokers.iter().map(|b| b.id).collect(),
            idx_of,
            rack: Vec::with_capacity(n),
            rack_brokers: vec![Vec::new(); rack_names.len()],
            rack_names,
            state: brokers.iter().map(|b| b.state).collect(),
            cap: brokers.iter().map(|b| b.cap).collect(),
            accepts: brokers
                .iter()
                .map(|b| b.rack.is_some() && b.state.accepts_load() && !excluded.contains(&b.id))
                .collect(),
            disk_known: brokers.iter().map(|b| b.disk_known).collect(),
            load: vec![Load::default(); n],
            lim_in: brokers.iter().map(|b| b.cap.net_in_bytes_per_sec).collect(),
            lim_out: brokers
                .iter()
                .map(|b| b.cap.net_out_bytes_per_sec)
                .collect(),
            lim_disk: brokers
                .iter()
                .map(|b| (b.cap.disk_bytes as f64 * limits.max_disk_utilization) as u64)
                .collect(),
            moves: vec![BrokerMoves::default(); n],
            hosted: (0..n).map(|_| Vec::with_capacity(per_broker)).collect(),
            live_racks: 0,
            racks: 0,
            rack_room: Vec::new(),
            repl_off: Vec::with_capacity(snap.partitions.len() + 1),
            repl: Vec::with_capacity(replica_count),
            in_sync: Vec::with_capacity(replica_count),
            leader: Vec::with_capacity(snap.partitions.len()),
            frozen: vec![Frozen::No; snap.partitions.len()],
            touched: vec![false; snap.partitions.len()],
            move_ix: vec![NONE; snap.partitions.len()],
            bytes_left: limits.max_bytes_to_move,
            plan: Plan::default(),
        };
        for (i, b) in brokers.iter().enumerate() {
            let r = match b.rack {
                Some(name) => st.rack_names.binary_search_by(|x| x.as_str().cmp(name)),
                None => Err(0),
            };
            match r {
                Ok(r) => {
                    st.rack.push(r as u32);
                    st.rack_brokers[r].push(i as u32);
                }
                Err(_) => st.rack.push(NONE),
            }
        }
        st.live_racks = st
            .rack_brokers
            .iter()
            .filter(|bs| bs.iter().any(|&b| st.accepts[b as usize]))
            .count();
        let named = st.rack_names.iter().filter(|r| !r.is_empty()).count();
        st.racks = if named > 0 {
            named
        } else {
            st.rack_names.len()
        };
        st.index_partitions();
        // Disk in use that replicas do not explain (other files on the volumes) counts as
        // load: a broker's disk load is the larger of its reported used bytes and its
        // replicas' sizes.
        for (b, row) in brokers.iter().enumerate() {
            if let Some(used) = row.disk_used {
                st.load[b].disk = st.load[b].disk.max(used);
            }
        }
        st.count_in_flight();
        st.refresh_all_rooms();
        st
    }

    /// Recomputes [`State::rack_room`] for every rack (after limits change).
    pub fn refresh_all_rooms(&mut self) {
        self.rack_room = (0..self.rack_names.len())
            .map(|r| self.room_of(r as u32))
            .collect();
    }

    fn room_of(&self, rack: u32) -> u64 {
        let max_moves = self.limits.max_moves_per_broker;
        self.rack_brokers[rack as usize]
            .iter()
            .map(|&b| b as usize)
            .filter(|&b| {
                self.accepts[b] && self.disk_known[b] && self.moves[b].incoming < max_moves
            })
            .map(|b| self.lim_in[b].saturating_sub(self.load[b].net_in))
            .max()
            .unwrap_or(0)
    }

    fn refresh_room(&mut self, b: u32) {
        let rack = self.rack[b as usize];
        if rack != NONE {
            self.rack_room[rack as usize] = self.room_of(rack);
        }
    }

    fn index_partitions(&mut self) {
        let snap = self.snap;
        self.repl_off.push(0);
        for (pi, p) in snap.partitions.iter().enumerate() {
            for &r in &p.replicas {
                let Some(b) = self.idx_of.get(r) else {
                    continue; // unreachable: every replica id was indexed in new()
                };
                self.repl.push(b);
                self.in_sync.push(p.isr.contains(&r));
                self.hosted[b as usize].push(pi as u32);
            }
            let leader = p.leader.and_then(|l| self.idx_of.get(l)).unwrap_or(NONE);
            self.leader.push(leader);
            self.repl_off.push(self.repl.len() as u32);
            if p.reassigning {
                self.frozen[pi] = Frozen::Reassigning;
            }
            self.add_partition_load(pi as u32, 1);
        }
    }

    /// In-flight moves: their partitions are frozen, and replicas they add count on the target
    /// as if already there (pd's influence), so that load is not planned onto twice. A
    /// partition Kafka reports as reassigning keeps that reason.
    fn count_in_flight(&mut self) {
        if self.snap.in_flight.is_empty() {
            return;
        }
        let keys: HashMap<(u32, i32), u32> = self
            .snap
            .partitions
            .iter()
            .enumerate()
            .map(|(i, p)| ((p.topic.0, p.partition), i as u32))
            .collect();
        for m in &self.snap.in_flight {
            let Some(&pi) = keys.get(&(m.topic.0, m.partition)) else {
                continue;
            };
            let p = &self.snap.partitions[pi as usize];
            if self.frozen[pi as usize] == Frozen::No {
                self.frozen[pi as usize] = Frozen::InFlight;
            }
            for r in &m.new_replicas {
                if p.replicas.contains(r) {
                    continue;
                }
                if let Some(b) = self.idx_of.get(*r) {
                    let l = &mut self.load[b as usize];
                    l.net_in += p.bytes_in_per_sec;
                    l.disk += p.size_bytes;
                }
            }
        }
    }

    /// The dense index of broker `id`.
    pub fn idx(&self, id: i32) -> Option<u32> {
        self.idx_of.get(id)
    }

    /// Replica broker indexes of partition `p`, preferred first.
    pub fn replicas(&self, p: u32) -> &[u32] {
        let (a, b) = (self.repl_off[p as usize], self.repl_off[p as usize + 1]);
        &self.repl[a as usize..b as usize]
    }

    /// Whether the replica in slot `k` of partition `p` was in sync in the snapshot (false for a
    /// replica placed by this plan: it has yet to catch up).
    pub fn slot_in_sync(&self, p: u32, k: usize) -> bool {
        self.in_sync[self.repl_off[p as usize] as usize + k]
    }

    /// Net out a leader of `p` carries: consumers plus one replication stream per follower.
    pub fn leader_out(&self, p: u32) -> u64 {
        let info = &self.snap.partitions[p as usize];
        let followers = info.replicas.len().saturating_sub(1) as u64;
        info.bytes_out_per_sec + info.bytes_in_per_sec * followers
    }

    /// Adds (`sign` = 1) or removes (`sign` = -1) partition `p`'s load from its brokers.
    fn add_partition_load(&mut self, p: u32, sign: i64) {
        let info = &self.snap.partitions[p as usize];
        let (bin, size) = (info.bytes_in_per_sec, info.size_bytes);
        let out = self.leader_out(p);
        let apply = |v: &mut u64, d: u64| {
            *v = if sign > 0 {
                v.saturating_add(d)
            } else {
                v.saturating_sub(d)
            }
        };
        let (a, b) = (self.repl_off[p as usize], self.repl_off[p as usize + 1]);
        for k in a..b {
            let l = &mut self.load[self.repl[k as usize] as usize];
            apply(&mut l.net_in, bin);
            apply(&mut l.disk, size);
        }
        let leader = self.leader[p as usize];
        if leader != NONE {
            apply(&mut self.load[leader as usize].net_out, out);
        }
    }

    /// The leader partition `p` would have if slot `k` were replaced by `to`: unchanged while
    /// the old leader stays a replica; otherwise Kafka elects the first replica of the new list.
    pub fn leader_after(&self, p: u32, k: usize, to: u32) -> u32 {
        let from = self.replicas(p)[k];
        let leader = self.leader[p as usize];
        if leader != from {
            leader
        } else if k == 0 {
            to
        } else {
            self.replicas(p)[0]
        }
    }

    /// Replaces the replica in slot `k` of `p` with broker `to`, updating loads and indexes.
    pub fn replace(&mut self, p: u32, k: usize, to: u32) {
        self.add_partition_load(p, -1);
        let new_leader = self.leader_after(p, k, to);
        let slot = self.repl_off[p as usize] as usize + k;
        let from = self.repl[slot];
        self.repl[slot] = to;
        self.in_sync[slot] = false;
        self.leader[p as usize] = new_leader;
        self.add_partition_load(p, 1);
        let list = &mut self.hosted[from as usize];
        if let Some(pos) = list.iter().position(|&x| x == p) {
            list.swap_remove(pos);
        }
        self.hosted[to as usize].push(p);
        self.moves[to as usize].incoming += 1;
        self.moves[from as usize].outgoing += 1;
        self.touched[p as usize] = true;
        // A broker that accepts nothing adds nothing to its rack's room (a heal's dead source).
        if self.accepts[from as usize] {
            self.refresh_room(from);
        }
        self.refresh_room(to);
    }

    /// Moves leadership of `p` to `to` (an in-sync replica), updating net out.
    pub(super) fn set_leader(&mut self, p: u32, to: u32) {
        self.add_partition_load(p, -1);
        self.leader[p as usize] = to;
        self.add_partition_load(p, 1);
        self.touched[p as usize] = true;
    }

    /// Swaps slots 0 and `k` of `p` (a zero-copy reorder: the set is unchanged).
    pub(super) fn reorder_first(&mut self, p: u32, k: usize) {
        let a = self.repl_off[p as usize] as usize;
        self.repl.swap(a, a + k);
        self.in_sync.swap(a, a + k);
    }

    /// Makes the (in-sync) replica in slot `k` of `p` the leader. Kafka can only elect the
    /// preferred replica, so for `k > 0` a zero-copy reorder putting it first is recorded too.
    pub fn elect(&mut self, p: u32, k: usize, reason: ElectionReason) {
        let to = self.replicas(p)[k];
        let old = self.leader[p as usize];
        if k > 0 {
            self.reorder_first(p, k);
            let preferred = self.ids[to as usize];
            self.record_move(p, 0, MoveReason::Reorder { preferred });
        }
        self.set_leader(p, to);
        let info = &self.snap.partitions[p as usize];
        self.plan.elections.push(Election {
            topic: self.snap.topic_name(info.topic).clone(),
            partition: info.partition,
            old_leader: (old != NONE).then(|| self.ids[old as usize]),
            new_leader: self.ids[to as usize],
            after_reorder: k > 0,
            reason,
        });
    }

    /// Whether every replica of `p` was in sync in the snapshot.
    pub fn all_in_sync(&self, p: u32) -> bool {
        let (a, b) = (self.repl_off[p as usize], self.repl_off[p as usize + 1]);
        self.in_sync[a as usize..b as usize].iter().all(|&x| x)
    }

    /// Whether `p` may be balanced: not frozen, not yet touched by this plan, fully in sync
    /// (an under-replicated partition is the healer's business), and led.
    pub fn movable(&self, p: u32) -> bool {
        self.frozen[p as usize] == Frozen::No
            && !self.touched[p as usize]
            && self.leader[p as usize] != NONE
            && self.all_in_sync(p)
    }

    /// Current replica ids of `p`.
    pub fn replica_ids(&self, p: u32) -> Vec<i32> {
        self.replicas(p)
            .iter()
            .map(|&b| self.ids[b as usize])
            .collect()
    }
}
