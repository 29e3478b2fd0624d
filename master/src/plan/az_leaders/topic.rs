//! One topic's leaders as the spread plans them: per-rack lists and counts, the planned net-out
//! change per broker, and the scan marks that keep [`super::path`]'s search from rescanning.

use super::path::{next_path, Hop};
use crate::plan::state::{State, NONE};

/// One topic's leaders as planned so far. Paths may send a partition this spread already moved
/// somewhere else again (that is what makes a chain optimal); only the final leader is elected,
/// once per partition, when the spread of the topic is done.
pub(super) struct Topic {
    /// Per rack, the topic's partitions it leads now (movable ones only; order is arbitrary
    /// but deterministic).
    pub(super) led: Vec<Vec<u32>>,
    /// Per rack, the topic's leaders now (all partitions with a racked leader).
    pub(super) count: Vec<u32>,
    /// Leader now, per partition of the topic (broker index), for the movable ones, in
    /// partition order.
    pub(super) now: Vec<(u32, u32)>,
    /// Net out added (+) or removed (-) per broker by this topic's planned transfers.
    pub(super) delta: Vec<i64>,
    /// Per partition of `now` (same index), its position in its rack's `led` list.
    pos: Vec<u32>,
    /// Per rack pair `a * racks + b`, the partitions led in `a` whose original leader or
    /// preferred replica is in `b` (both fixed for the whole spread): the only ones
    /// [`super::path`]'s hop may take from `a` to `b` without a fallback. Order is arbitrary.
    pub(super) prio: Vec<Vec<u32>>,
    /// Per rack pair, how many partitions at the start of its `prio` list are known to have
    /// no original leader or preferred replica that fits (same rule as `scanned`).
    pub(super) prio_bad: Vec<u32>,
    /// Per rack pair `a * racks + b`, how many partitions at the start of `led[a]` are known
    /// to have no replica in `b` that fits: none since lost its place in `led[a]` and no
    /// broker of `b` lost load (loads only grow otherwise, so a slot that did not fit still
    /// does not).
    pub(super) scanned: Vec<u32>,
}

impl Topic {
    /// The topic of partitions `parts` as it stands in `st`.
    pub(super) fn of(st: &State, parts: &[u32]) -> Self {
        let racks = st.rack_names.len();
        let mut t = Topic {
            led: vec![Vec::new(); racks],
            count: vec![0; racks],
            now: Vec::new(),
            delta: vec![0; st.ids.len()],
            pos: Vec::new(),
            prio: vec![Vec::new(); racks * racks],
            scanned: vec![0; racks * racks],
            prio_bad: vec![0; racks * racks],
        };
        let mut pos = Vec::new();
        for &p in parts {
            let l = st.leader[p as usize];
            if l == NONE || st.rack[l as usize] == NONE {
                continue;
            }
            let r = st.rack[l as usize] as usize;
            t.count[r] += 1;
            if st.movable(p) {
                pos.push((p, t.led[r].len() as u32));
                t.led[r].push(p);
                t.now.push((p, l));
                for b in prio_racks(st, p).into_iter().flatten() {
                    t.prio[r * racks + b].push(p);
                }
            }
        }
        t.now.sort_unstable();
        pos.sort_unstable();
        t.pos = pos.into_iter().map(|x| x.1).collect();
        t
    }

    /// Applies paths of transfers (on this scratch copy only) until none is left.
    pub(super) fn even_out(&mut self, st: &State) {
        while let Some(path) = next_path(st, self) {
            self.apply(st, path);
        }
    }

    /// Index of movable partition `p` in `now` (and `pos`).
    fn index(&self, p: u32) -> Option<usize> {
        self.now.binary_search_by_key(&p, |x| x.0).ok()
    }

    /// The planned leader of `p` (broker index), [`NONE`] if the spread may not move it.
    fn leader(&self, p: u32) -> u32 {
        self.index(p).map_or(NONE, |i| self.now[i].1)
    }

    /// Position of `p` in its rack's `led` list.
    pub(super) fn pos(&self, p: u32) -> u32 {
        self.index(p).map_or(u32::MAX, |i| self.pos[i])
    }

    fn set_pos(&mut self, p: u32, at: usize) {
        if let Some(i) = self.index(p) {
            self.pos[i] = at as u32;
        }
    }

    fn set_leader(&mut self, p: u32, b: u32) {
        if let Some(i) = self.index(p) {
            self.now[i].1 = b;
        }
    }

    /// Applies one path from [`next_path`] to the planned leaders.
    fn apply(&mut self, st: &State, path: Vec<(usize, usize, Hop)>) {
        let racks = self.count.len();
        // Each hop's target rack differs, so each broker gains at most one leader on the path:
        // the capacity checks made during the search still hold while it is applied.
        for (from, to, hop) in path {
            let old = self.leader(hop.p);
            let new = st.replicas(hop.p)[hop.k];
            let out = st.leader_out(hop.p) as i64;
            self.delta[old as usize] -= out;
            self.delta[new as usize] += out;
            self.set_leader(hop.p, new);
            self.move_led(hop.p, from, to);
            self.move_prio(st, hop.p, from, to);
            // The old leader, in `from`, lost load: any slot in `from` may fit again.
            for r in 0..racks {
                self.scanned[r * racks + from] = 0;
                self.prio_bad[r * racks + from] = 0;
            }
            self.count[from] -= 1;
            self.count[to] += 1;
        }
    }

    /// Moves `p` from `led[from]` to the end of `led[to]`, keeping the positions and the
    /// `scanned` marks of `from` right.
    fn move_led(&mut self, p: u32, from: usize, to: usize) {
        let racks = self.count.len();
        let i = self.pos(p) as usize;
        if i < self.led[from].len() && self.led[from][i] == p {
            self.led[from].swap_remove(i);
            if let Some(&moved) = self.led[from].get(i) {
                self.set_pos(moved, i);
            }
            // Position i now holds a partition not scanned yet.
            for r in 0..racks {
                let n = &mut self.scanned[from * racks + r];
                *n = (*n).min(i as u32);
            }
        }
        self.set_pos(p, self.led[to].len());
        self.led[to].push(p);
    }

    /// Moves `p` from the `prio` lists of rack `from` to those of rack `to`.
    fn move_prio(&mut self, st: &State, p: u32, from: usize, to: usize) {
        let racks = self.count.len();
        for b in prio_racks(st, p).into_iter().flatten() {
            let list = &mut self.prio[from * racks + b];
            if let Some(j) = list.iter().position(|&x| x == p) {
                list.remove(j);
                let bad = &mut self.prio_bad[from * racks + b];
                if (j as u32) < *bad {
                    *bad -= 1;
                }
            }
            self.prio[to * racks + b].push(p);
        }
    }
}

/// The racks of `p`'s original leader and of its preferred replica (once if the same).
fn prio_racks(st: &State, p: u32) -> [Option<usize>; 2] {
    let rack = |b: u32| match st.rack.get(b as usize) {
        Some(&r) if r != NONE => Some(r as usize),
        _ => None,
    };
    let orig = rack(st.leader[p as usize]);
    let pref = st.replicas(p).first().and_then(|&b| rack(b));
    [orig, pref.filter(|&r| Some(r) != orig)]
}
