//! Balance: bring every broker under its network and disk limits, within the target ratio of
//! the mean.
//!
//! A broker's limit for net in (and likewise net out) is
//! `min(capacity, target_ratio x mean utilization x capacity)`; the mean is over brokers that
//! accept load and does not change as load moves between them. Overloaded brokers are worked
//! on largest excess first, and for each the cheapest means come first:
//!
//! 1. **Elections** (net out only, zero bytes): hand leadership of its partitions to another
//!    in-sync replica with room, preferred replicas first (a plain preferred-leader election),
//!    then others (zero-copy reorder + election); biggest leader load first, so few elections.
//! 2. **Leader replica moves for net out** that elections could not fix (every in-sync peer was
//!    full). Moving a led replica relieves net in as well, so doing these before follower moves
//!    avoids copying bytes for net in that they free anyway (on the 270-broker scale-out bench
//!    this cut bytes moved from 1.49x to 1.10x the lower bound).
//! 3. **Follower moves** (net in): move follower replicas off it, cheapest bytes per byte/s of
//!    relief first (`size / bytes_in`), only ones no bigger than the remaining excess; then, if
//!    still over, the smallest single replica that clears the excess.
//! 4. **Leader replica moves** (net in and out) for whatever is left, chosen the same way.
//!
//! 5. **Disk moves** off brokers over their disk limit (`target_ratio` x mean disk
//!    utilization, the rack's mean when rack diversity pins rack totals), least net in per byte
//!    first, onto the target with the lowest of net and disk utilization; then **swaps**
//!    (`swap.rs`) where no single move fits: a big replica of the full broker exchanged for a
//!    small one of a rack peer, both within their limits. Network balance comes first: on
//!    Cruise Control's skewed cluster every target with disk room was at its net-in limit, so
//!    single moves stopped disk at 2.73 -> 1.60 max/mean; swaps took it to 1.13, and to
//!    1.10 once a swap may re-target a replica this plan placed ([`swap::planned`]).
//! 6. **Counts** (`counts.rs`): replica and leader counts into a band around the mean,
//!    elections first, smallest replicas first, only within the room steps 1-5 left.
//!
//! No limit is ever above the resource's peak utilization before the plan, so balance never
//! makes a resource's max/mean worse. A partition already elected or moved may still have an
//! original follower moved ([`slot_movable`]); it joins the partition's one move.
//!
//! Rounds repeat while they make progress. Every target stays under its own limits, so no move
//! creates a new overload. Partitions that are frozen, already touched, or not fully in sync are
//! left alone. Brokers still over afterwards are reported as warnings with their figures.

use std::cmp::Ordering;

use super::place::{pick_target, Score};
use super::reason::{ElectionReason, MoveReason, Resource, Warning};
use super::state::{Frozen, State, NONE};
use super::swap;

/// Rounds of the three steps; each round only runs if the previous one changed something.
const MAX_ROUNDS: usize = 16;

/// Balances `st`.
pub(super) fn balance(st: &mut State) {
    set_limits(st);
    for round in 0..MAX_ROUNDS {
        let before = (st.plan.moves.len(), st.plan.elections.len());
        elections(st);
        // Net out elections could not fix needs a leader replica to move, which relieves net
        // in too: do those before follower moves, or follower moves copy bytes for net in that
        // the leader moves would have freed anyway.
        for b in overloaded(st, Resource::NetOut) {
            relieve(st, b, Resource::NetOut, true);
        }
        replica_moves(st, false);
        replica_moves(st, true);
        for b in overloaded(st, Resource::Disk) {
            relieve(st, b, Resource::Disk, false);
            relieve(st, b, Resource::Disk, true);
            swap::relieve_disk(st, b);
        }
        let after = (st.plan.moves.len(), st.plan.elections.len());
        tracing::debug!(round, moves = after.0, elections = after.1, "balance round");
        if after == before
            || [Resource::NetIn, Resource::NetOut, Resource::Disk]
                .iter()
                .all(|&r| overloaded(st, r).is_empty())
        {
            break;
        }
    }
    warn_still_over(st, &[Resource::NetIn, Resource::NetOut, Resource::Disk]);
}

/// The share of its configured net limit that an overloaded broker is brought down to, by
/// elections only ([`leaders_only`]) and by relief (`relieve.rs`), and the most of it that a
/// leader spread (`az_leaders`) fills: 90 %.
///
/// Why a margin: the overload detector judges a windowed rate that lags the plan and moves
/// with the producers. In the e2e overload run, relief stopped 1-4 % under the 1 MiB/s limit
/// and the broker's net in went from 1 092 602 to 1 110 458 and 1 131 683 B/s over the next
/// minutes (about ±4 %), so it was over again within 20 s and relieved again every minute. A
/// 10 % margin is more than twice that swing. The spread keeps the same margin, so it never
/// hands back the leadership that the overload's elections took off (it did: 14 leaders back
/// onto the relieved broker 5 s after the finding cleared).
pub(super) const HEADROOM: f64 = 0.9;

/// `limit` x [`HEADROOM`].
pub(super) fn headroom(limit: u64) -> u64 {
    (limit as f64 * HEADROOM) as u64
}

/// Step 1 alone ([`super::Request::BalanceLeaders`], the overload's first answer): elections
/// off brokers over their own configured net-out limit (the overload detector's limit, the
/// snapshot's capacity), until each is under [`HEADROOM`] of it, biggest leader load first,
/// and only leaders that carry net out. No data copied. New leaders stay within balance's
/// limits (`target_ratio` x the mean, never above their own). Brokers not over their own limit
/// are left alone: the balance target of a broker with a small limit among big ones is a
/// fraction of its limit (the e2e run's 1 MiB/s broker among 32 MiB/s ones had a balance limit
/// near 0.4 MiB/s, so every one of its 19 leaders was moved off, zero-traffic ones too).
///
/// **All or nothing per broker**: its elections are made only if together they bring its net
/// out under its configured limit. Otherwise none is, and [`Warning::ElectionsCannotRelieve`]
/// says why (broker, excess, what the elections could clear): elections that leave a broker
/// over its limit only churn leadership (the user run: two `__kmedic_stats` leaders of a few
/// hundred B/s elected off a broker 57 KB/s over, which stayed over, and the leader spread
/// moved one back 40 s later), and the relief that must follow elects the same way first,
/// together with the moves that finish the job; the policy goes to that relief at once. A
/// broker over its net-in limit with no elections made gets the same warning (elections move
/// no net in). One whose elections are made but stays over net in is a
/// [`Warning::StillOverLimit`] (its relief follows after the grace, as before).
pub(super) fn leaders_only(st: &mut State) {
    set_limits(st);
    let mut sources: Vec<(u64, u32)> = (0..st.ids.len() as u32)
        .filter(|&b| st.accepts[b as usize])
        .filter_map(|b| {
            let (load, cap) = own_net(st, b, Resource::NetOut);
            (load > cap).then(|| (load - cap, b))
        })
        .collect();
    sources.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, b) in &sources {
        let bu = b as usize;
        st.lim_out[bu] = headroom(st.cap[bu].net_out_bytes_per_sec);
    }
    st.refresh_all_rooms();
    let mut elected = vec![false; st.ids.len()];
    let mut warned = vec![false; st.ids.len()];
    for &(_, b) in &sources {
        let (before, cap) = own_net(st, b, Resource::NetOut);
        let kept = st.clone();
        let n = st.plan.elections.len();
        elect_off(st, b);
        let (after, _) = own_net(st, b, Resource::NetOut);
        if after <= cap {
            elected[b as usize] = st.plan.elections.len() > n;
            continue;
        }
        tracing::debug!(
            broker = st.ids[b as usize],
            net_out_bytes_per_sec = before,
            limit_bytes_per_sec = cap,
            clearable_bytes_per_sec = before - after,
            "elections only: they would leave the broker over its limit, none made"
        );
        *st = kept;
        cannot(st, b, Resource::NetOut, before - after);
        warned[b as usize] = true;
    }
    for b in 0..st.ids.len() as u32 {
        let bu = b as usize;
        let (load, limit) = own_net(st, b, Resource::NetIn);
        if st.accepts[bu] && load > limit && !elected[bu] {
            cannot(st, b, Resource::NetIn, 0);
            warned[bu] = true;
        }
    }
    for resource in [Resource::NetIn, Resource::NetOut] {
        for b in 0..st.ids.len() as u32 {
            let (load, limit) = own_net(st, b, resource);
            if st.accepts[b as usize] && load > limit && !warned[b as usize] {
                st.plan.warnings.push(Warning::StillOverLimit {
                    broker: st.ids[b as usize],
                    resource,
                    load_bytes_per_sec: load,
                    limit_bytes_per_sec: limit,
                });
            }
        }
    }
}

/// [`Warning::ElectionsCannotRelieve`] for broker `b` over its configured `resource` limit,
/// where elections could take `clearable` off it.
fn cannot(st: &mut State, b: u32, resource: Resource, clearable: u64) {
    let (load, limit) = own_net(st, b, resource);
    st.plan.warnings.push(Warning::ElectionsCannotRelieve {
        broker: st.ids[b as usize],
        resource,
        load_bytes_per_sec: load,
        limit_bytes_per_sec: limit,
        clearable_bytes_per_sec: clearable,
    });
}

/// Broker `b`'s planned load of network `resource` and its configured limit (capacity).
fn own_net(st: &State, b: u32, resource: Resource) -> (u64, u64) {
    let (l, c) = (st.load[b as usize], st.cap[b as usize]);
    match resource {
        Resource::NetOut => (l.net_out, c.net_out_bytes_per_sec),
        _ => (l.net_in, c.net_in_bytes_per_sec),
    }
}

/// A [`Warning::StillOverLimit`] per broker still over its limit of each of `resources`, with
/// its figures, resources in the order given, largest excess first within one.
fn warn_still_over(st: &mut State, resources: &[Resource]) {
    for &resource in resources {
        for b in overloaded(st, resource) {
            let (load, limit) = figures(st, b, resource);
            st.plan.warnings.push(Warning::StillOverLimit {
                broker: st.ids[b as usize],
                resource,
                load_bytes_per_sec: load,
                limit_bytes_per_sec: limit,
            });
        }
    }
}

/// Tightens each broker's limits to the target ratio of the mean utilization.
///
/// When every partition has at least as many replicas as there are live racks, rack diversity
/// puts one replica of each partition in every rack, so each rack's total net in is fixed and
/// no plan can move it. A rack with fewer (or smaller) brokers then cannot get near the cluster
/// mean; its brokers' net-in limit uses the rack's own mean when that is higher, so the balancer
/// still evens load inside the rack instead of giving up on it.
pub(super) fn set_limits(st: &mut State) {
    let (mean_in, mean_out) = st.mean_utilization();
    let mean_disk = mean_disk_utilization(st);
    let ratio = st.limits.target_ratio;
    let rack_mean = rack_pinned_mean(st, |st, b| {
        (st.load[b].net_in, st.cap[b].net_in_bytes_per_sec)
    });
    let rack_disk = rack_pinned_mean(st, |st, b| (st.load[b].disk, st.cap[b].disk_bytes));
    let peak = peak_utilization(st);
    for b in 0..st.ids.len() {
        let cap = st.cap[b];
        // Never above the resource's peak before the plan either, so balance cannot make any
        // resource's max/mean worse.
        let lim = |cap: u64, mean: f64, peak: f64| {
            (cap as f64 * (mean * ratio).min(peak)).min(cap as f64) as u64
        };
        let rack = st.rack[b] as usize;
        let floor = |m: &Option<Vec<f64>>| m.as_ref().and_then(|m| m.get(rack).copied());
        let floor_in = floor(&rack_mean).unwrap_or(0.0);
        let floor_disk = floor(&rack_disk).unwrap_or(0.0);
        st.lim_in[b] = lim(cap.net_in_bytes_per_sec, mean_in.max(floor_in), peak[0]);
        st.lim_out[b] = lim(cap.net_out_bytes_per_sec, mean_out, peak[1]);
        let disk = lim(cap.disk_bytes, mean_disk.max(floor_disk), peak[2]);
        st.lim_disk[b] = st.lim_disk[b].min(disk);
    }
    st.refresh_all_rooms();
    tracing::debug!(
        mean_in,
        mean_out,
        mean_disk,
        ratio,
        ?rack_mean,
        ?rack_disk,
        "balance limits set"
    );
}

/// Mean disk utilization over brokers that accept load.
fn mean_disk_utilization(st: &State) -> f64 {
    let (mut load, mut cap) = (0f64, 0f64);
    for b in (0..st.ids.len()).filter(|&b| st.accepts[b]) {
        load += st.load[b].disk as f64;
        cap += st.cap[b].disk_bytes as f64;
    }
    if cap > 0.0 {
        load / cap
    } else {
        0.0
    }
}

/// Highest net in, net out and disk utilization over brokers that accept load.
pub(super) fn peak_utilization(st: &State) -> [f64; 3] {
    let mut peak = [0f64; 3];
    for b in (0..st.ids.len()).filter(|&b| st.accepts[b]) {
        let (l, c) = (st.load[b], st.cap[b]);
        let pairs = [
            (l.net_in, c.net_in_bytes_per_sec),
            (l.net_out, c.net_out_bytes_per_sec),
            (l.disk, c.disk_bytes),
        ];
        for (r, (l, c)) in pairs.into_iter().enumerate() {
            if c > 0 {
                peak[r] = peak[r].max(l as f64 / c as f64);
            }
        }
    }
    peak
}

/// Mean utilization per rack of a resource `(load, capacity)` of broker `b`, when rack totals
/// are pinned by rack diversity (net in and disk: every replica carries them).
fn rack_pinned_mean(st: &State, of: impl Fn(&State, usize) -> (u64, u64)) -> Option<Vec<f64>> {
    let min_rf = st
        .snap
        .partitions
        .iter()
        .map(|p| p.replicas.len())
        .filter(|&n| n > 0)
        .min()?;
    if min_rf < st.live_racks {
        return None;
    }
    let means = st
        .rack_brokers
        .iter()
        .map(|bs| {
            let (mut load, mut cap) = (0f64, 0f64);
            for &b in bs.iter().filter(|&&b| st.accepts[b as usize]) {
                let (l, c) = of(st, b as usize);
                load += l as f64;
                cap += c as f64;
            }
            if cap > 0.0 {
                load / cap
            } else {
                0.0
            }
        })
        .collect();
    Some(means)
}

/// (load, limit) of broker `b` for `resource`.
pub(super) fn figures(st: &State, b: u32, resource: Resource) -> (u64, u64) {
    let l = st.load[b as usize];
    match resource {
        Resource::NetIn => (l.net_in, st.lim_in[b as usize]),
        Resource::NetOut => (l.net_out, st.lim_out[b as usize]),
        Resource::Disk => (l.disk, st.lim_disk[b as usize]),
    }
}

/// Brokers that accept load and are over their `resource` limit, largest excess first.
fn overloaded(st: &State, resource: Resource) -> Vec<u32> {
    let mut v: Vec<(u64, u32)> = (0..st.ids.len() as u32)
        .filter(|&b| st.accepts[b as usize])
        .filter_map(|b| {
            let (load, limit) = figures(st, b, resource);
            (load > limit).then(|| (load - limit, b))
        })
        .collect();
    v.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    v.into_iter().map(|(_, b)| b).collect()
}

/// Step 1: leadership transfers off brokers over their net-out limit.
fn elections(st: &mut State) {
    for b in overloaded(st, Resource::NetOut) {
        elect_off(st, b);
    }
}

/// Leadership transfers off broker `b` while it is over its net-out limit (also used by
/// `relieve.rs`).
pub(super) fn elect_off(st: &mut State, b: u32) {
    let mut cands: Vec<(bool, u64, u32)> = st.hosted[b as usize]
        .iter()
        .copied()
        .filter(|&p| st.leader[p as usize] == b && st.movable(p))
        .map(|p| (st.replicas(p)[0] == b, st.leader_out(p), p))
        // A leader that carries no net out relieves nothing: it stays.
        .filter(|c| c.1 > 0)
        .collect();
    // Preferred elections (b is not the preferred replica) first, then biggest load.
    cands.sort_unstable_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)).then(x.2.cmp(&y.2)));
    for (_, out, p) in cands {
        let (load, limit) = figures(st, b, Resource::NetOut);
        if load <= limit {
            break;
        }
        let Some(k) = new_leader_slot(st, p, b, out) else {
            continue;
        };
        let reason = ElectionReason::Balance {
            from: st.ids[b as usize],
            load_bytes_per_sec: load,
            limit_bytes_per_sec: limit,
            preferred: k == 0,
        };
        st.elect(p, k, reason);
    }
}

/// The slot of an in-sync replica of `p` (other than `from`) that can take `out` of net out:
/// the preferred slot if it fits, else the one with the lowest net-out utilization.
fn new_leader_slot(st: &State, p: u32, from: u32, out: u64) -> Option<usize> {
    let mut best: Option<(f64, usize)> = None;
    for (k, &x) in st.replicas(p).iter().enumerate() {
        let xu = x as usize;
        if x == from || !st.accepts[xu] || !st.slot_in_sync(p, k) {
            continue;
        }
        let after = st.load[xu].net_out.saturating_add(out);
        if after > st.lim_out[xu] {
            continue;
        }
        if k == 0 {
            return Some(0);
        }
        let u = after as f64 / st.cap[xu].net_out_bytes_per_sec.max(1) as f64;
        if best.is_none_or(|(bu, _)| u < bu) {
            best = Some((u, k));
        }
    }
    best.map(|(_, k)| k)
}

/// Steps 2 and 3: move follower replicas (`leaders` false) or led replicas (`leaders` true)
/// off overloaded brokers, fewest bytes per unit of relief first.
fn replica_moves(st: &mut State, leaders: bool) {
    let mut brokers = overloaded(st, Resource::NetIn);
    if leaders {
        for b in overloaded(st, Resource::NetOut) {
            if !brokers.contains(&b) {
                brokers.push(b);
            }
        }
    }
    for b in brokers {
        // Relieve whichever resource is further over, relative to its limit.
        let (li, mi) = figures(st, b, Resource::NetIn);
        let (lo, mo) = figures(st, b, Resource::NetOut);
        let over_in = li as f64 / mi.max(1) as f64;
        let over_out = lo as f64 / mo.max(1) as f64;
        let resource = if !leaders || over_in >= over_out {
            Resource::NetIn
        } else {
            Resource::NetOut
        };
        relieve(st, b, resource, leaders);
    }
}

/// How much of `resource` moving the replica of `p` on `b` takes off `b`.
pub(super) fn relief(st: &State, p: u32, resource: Resource, leaders: bool) -> u64 {
    match resource {
        Resource::NetIn => st.snap.partitions[p as usize].bytes_in_per_sec,
        Resource::NetOut if leaders => st.leader_out(p),
        Resource::NetOut => 0,
        Resource::Disk => st.snap.partitions[p as usize].size_bytes,
    }
}

pub(super) fn relieve(st: &mut State, b: u32, resource: Resource, leaders: bool) {
    let (load, limit) = figures(st, b, resource);
    tracing::debug!(
        broker = st.ids[b as usize],
        %resource,
        load_bytes_per_sec = load,
        limit_bytes_per_sec = limit,
        leaders,
        "relieving overloaded broker by replica moves"
    );
    let mut cands: Vec<(u64, u64, u32)> = st.hosted[b as usize]
        .iter()
        .copied()
        .filter(|&p| (st.leader[p as usize] == b) == leaders && slot_movable(st, p, b))
        .map(|p| {
            (
                st.snap.partitions[p as usize].size_bytes,
                relief(st, p, resource, leaders),
                p,
            )
        })
        .filter(|c| c.1 > 0)
        .collect();
    // size / relief ascending, compared exactly as size_a * relief_b < size_b * relief_a.
    let per_unit = |a: &(u64, u64, u32), c: &(u64, u64, u32)| -> Ordering {
        (a.0 as u128 * c.1 as u128)
            .cmp(&(c.0 as u128 * a.1 as u128))
            .then(a.2.cmp(&c.2))
    };
    if resource == Resource::Disk {
        // Every byte moved relieves one byte; the net in it takes along must fit a target that
        // network balance has already filled to its limit: least net in per byte first.
        let bin = |c: &(u64, u64, u32)| st.snap.partitions[c.2 as usize].bytes_in_per_sec as u128;
        cands.sort_unstable_by(|a, c| {
            (bin(a) * c.0 as u128)
                .cmp(&(bin(c) * a.0 as u128))
                .then(a.2.cmp(&c.2))
        });
    } else {
        cands.sort_unstable_by(per_unit);
    }
    let excess = |st: &State| {
        let (load, limit) = figures(st, b, resource);
        load.saturating_sub(limit)
    };
    // Pass 1: cheapest per unit, never more than the remaining excess.
    for &(_, r, p) in &cands {
        let e = excess(st);
        if e == 0 {
            return;
        }
        if r <= e {
            try_move(st, p, b, resource);
        }
    }
    // Pass 2: the smallest replicas that clear what is left in one move.
    let mut big: Vec<(u64, u64, u32)> = cands
        .into_iter()
        .filter(|c| slot_movable(st, c.2, b))
        .collect();
    big.sort_unstable_by(|a, c| a.0.cmp(&c.0).then(a.2.cmp(&c.2)));
    for (_, r, p) in big {
        let e = excess(st);
        if e == 0 {
            return;
        }
        if r >= e && try_move(st, p, b, resource) {
            return;
        }
    }
}

/// Whether balance may move the replica of `p` on broker `b`.
///
/// An untouched partition: when [`State::movable`]. A partition this plan already elected a
/// leader for or moved another replica of (by balance) may still have a follower moved, joining
/// its one move, so a hot broker whose partitions all had one replica moved or a leader elected
/// is not stuck (on Cruise Control's skewed 50-broker cluster that stopped balance at net in
/// max/mean 1.52): the replica must be an original in-sync one (not placed by this plan), not
/// the leader, and the leader must be an original in-sync replica, so the election and the move
/// agree (the elected leader stays, first in the list after its reorder).
pub(super) fn slot_movable(st: &State, p: u32, b: u32) -> bool {
    if !st.touched[p as usize] {
        return st.movable(p);
    }
    let pu = p as usize;
    let info = &st.snap.partitions[pu];
    let lead = st.leader[pu];
    let by_balance = match st.plan.moves.get(st.move_ix[pu] as usize) {
        None => true,
        Some(m) => matches!(
            m.reason,
            MoveReason::Balance { .. }
                | MoveReason::Relieve { .. }
                | MoveReason::Swap { .. }
                | MoveReason::ReplicaCount { .. }
                | MoveReason::Reorder { .. }
        ),
    };
    let reps = st.replicas(p);
    let slot_of = |x: u32| reps.iter().position(|&r| r == x);
    by_balance
        && st.frozen[pu] == Frozen::No
        && lead != NONE
        && b != lead
        && info.replicas.iter().all(|r| info.isr.contains(r))
        && slot_of(b).is_some_and(|k| st.slot_in_sync(p, k))
        && slot_of(lead).is_some_and(|k| st.slot_in_sync(p, k))
}

/// Moves the replica of `p` on `b` to the best target, within the move and byte limits.
pub(super) fn try_move(st: &mut State, p: u32, b: u32, resource: Resource) -> bool {
    if !slot_movable(st, p, b) || st.moves[b as usize].outgoing >= st.limits.max_moves_per_broker {
        return false;
    }
    let size = st.snap.partitions[p as usize].size_bytes;
    if size > st.bytes_left {
        return false;
    }
    let Some(k) = st.replicas(p).iter().position(|&x| x == b) else {
        return false;
    };
    let score = match resource {
        Resource::Disk => Score::NetAndDisk,
        _ => Score::Net,
    };
    let to = match pick_target(st, p, k, score) {
        Ok(to) => to,
        Err(reason) => {
            tracing::trace!(broker = st.ids[b as usize], partition = p, %resource, %reason, "no target");
            return false;
        }
    };
    let (load, limit) = figures(st, b, resource);
    st.replace(p, k, to);
    let reason = MoveReason::Balance {
        from: st.ids[b as usize],
        resource,
        load_bytes_per_sec: load,
        limit_bytes_per_sec: limit,
    };
    st.record_move(p, size, reason);
    true
}
