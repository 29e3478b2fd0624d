//! Relieve ([`super::Request::Relieve`]): bring the named overloaded brokers under their own
//! limits, moving the least data, and touch nothing else.
//!
//! Balance evens the whole cluster toward `target_ratio` x the mean, so one hot broker can
//! start gigabytes of unrelated moves. Relief works on the named brokers alone:
//!
//! - **Their limits** are their own: the configured net in and net out limits (the snapshot's
//!   capacity, what the overload detector judges) and `max_disk_utilization` of disk, not the
//!   balance target, so relief stops as soon as each is under them; for net in and out, under
//!   `balance::HEADROOM` (90 %) of them, so the detector's lagging windowed rate does not
//!   re-fire at once (it did in the e2e run, every minute). A broker still over its own limit
//!   (not the margin) afterwards is a warning.
//! - **Every other broker's limits** are balance's (`balance::set_limits`): net in and out within
//!   `target_ratio` x the mean utilization, never above their configured limits, so relief never
//!   puts a target over a limit nor outside the target ratio. Disk: `max_disk_utilization`, and
//!   no target above the highest disk utilization before the plan (relief never makes the disk
//!   max worse). `target_ratio` is a network goal (`Limits::target_ratio`); holding a network
//!   relief to the disk mean too would leave a hot broker over its network limit for a disk
//!   imbalance that hurts nobody yet.
//!
//! Per round, for each named broker, largest relative excess first, the cheapest means first
//! (balance's own steps, `balance.rs`):
//!
//! 1. **elections** off it while it is over net out (zero bytes; preferred replicas first, then
//!    zero-copy reorders), `balance::elect_off`;
//! 2. **led replica moves** for net out that elections could not fix (they free net in too);
//! 3. **replica moves** for net in, then for disk: the cheaper of two covers of the excess
//!    ([`cover`]: balance's fewest-bytes-per-unit greedy, or the one smallest replica that
//!    clears it alone), then balance's own passes (`balance::relieve`) if still over.
//!
//! Only replicas on the named brokers move, so only partitions with a replica there are
//! touched; no move lands on another named broker, and leadership goes to none. Targets come
//! from `place::pick_target` (rack rule first), and every DESIGN.md safety rule of balance
//! holds (frozen, in-flight and not-in-sync partitions are left alone; RF kept; the byte budget
//! and per-broker move limits hold). A broker still over afterwards (no target with room) is
//! reported as [`Warning::StillOverLimit`] with its load and limit.

use super::balance::{self, figures, relief, slot_movable, try_move};
use super::reason::{MoveReason, Resource, Warning};
use super::state::State;

/// Rounds of the steps; each round only runs if the previous one changed something.
const MAX_ROUNDS: usize = 4;

/// One way to relieve: the order of the resources, and whether [`cover`] chooses the moves or
/// balance's own passes alone do.
struct Way {
    order: [Resource; 3],
    cover: bool,
    /// Work to the balance limit (`target_ratio` x the mean) instead of the broker's own, as
    /// balance would: more relief than needed, but its leader moves sometimes clear net in
    /// and net out together with fewer bytes than relieving each to its own limit does.
    tight: bool,
}

/// The ways tried. A leader move frees net in and net out together, so which resource goes
/// first changes the bytes: on random clusters each of these was the cheapest for some.
const WAYS: [Way; 4] = [
    Way {
        order: [Resource::NetOut, Resource::NetIn, Resource::Disk],
        cover: true,
        tight: false,
    },
    Way {
        order: [Resource::NetIn, Resource::NetOut, Resource::Disk],
        cover: true,
        tight: false,
    },
    Way {
        order: [Resource::NetOut, Resource::NetIn, Resource::Disk],
        cover: false,
        tight: false,
    },
    Way {
        order: [Resource::NetOut, Resource::NetIn, Resource::Disk],
        cover: false,
        tight: true,
    },
];

const RESOURCES: [Resource; 3] = [Resource::NetIn, Resource::NetOut, Resource::Disk];

/// Relieves brokers `brokers` (dense indexes, sorted, deduplicated) of `st`. Brokers that do
/// not accept load (dead, suspect, draining, unknown) are not relieved: heal and decommission
/// are their requests.
pub(super) fn relieve(st: &mut State, brokers: &[u32]) {
    let brokers: Vec<u32> = brokers
        .iter()
        .copied()
        .filter(|&b| {
            let ok = st.accepts[b as usize];
            if !ok {
                tracing::debug!(
                    broker = st.ids[b as usize],
                    "relief: broker accepts no load, not relieved"
                );
            }
            ok
        })
        .collect();
    let brokers = &brokers[..];
    let moves_before = st.plan.moves.len();
    let before_limits = st.lim_disk.clone();
    balance::set_limits(st);
    // Targets: disk under max_disk_utilization and the disk peak, not the balance disk target.
    let peak_disk = balance::peak_utilization(st)[2];
    for (b, lim) in st.lim_disk.iter_mut().enumerate() {
        let peak = (st.cap[b].disk_bytes as f64 * peak_disk) as u64;
        *lim = before_limits[b].min(peak);
    }
    // The named brokers: their own limits, and they take nothing from each other.
    let tight: Vec<[u64; 3]> = brokers
        .iter()
        .map(|&b| {
            let bu = b as usize;
            [st.lim_in[bu], st.lim_out[bu], st.lim_disk[bu]]
        })
        .collect();
    for &b in brokers {
        let bu = b as usize;
        // Net: a margin under the own limit (`balance::HEADROOM`), so the detector's lagging
        // windowed rate does not re-fire as soon as the relief is done.
        st.lim_in[bu] = balance::headroom(own_limit(st, b, Resource::NetIn));
        st.lim_out[bu] = balance::headroom(own_limit(st, b, Resource::NetOut));
        st.lim_disk[bu] = own_limit(st, b, Resource::Disk);
        st.accepts[bu] = false;
    }
    st.refresh_all_rooms();
    for (b, (load, limit)) in brokers
        .iter()
        .flat_map(|&b| RESOURCES.map(|r| (b, figures(st, b, r))))
    {
        tracing::debug!(
            broker = st.ids[b as usize],
            load,
            limit,
            "relief: load and own limit before"
        );
    }
    // Each way on a copy of the state; the one that leaves the fewest limits exceeded, then
    // copies the fewest bytes, wins (ties: the first).
    let mut best: Option<(usize, u64, State)> = None;
    for (k, way) in WAYS.iter().enumerate() {
        let mut trial = st.clone();
        let own = set_source_limits(&mut trial, brokers, way.tight.then_some(&tight[..]));
        rounds(&mut trial, brokers, way);
        set_source_limits(&mut trial, brokers, Some(&own));
        let over_count = brokers
            .iter()
            .flat_map(|&b| RESOURCES.map(|r| over(&trial, b, r)))
            .filter(|&o| o)
            .count();
        // Totals are summed when the plan is finished: count the moves' bytes here.
        let bytes: u64 = trial.plan.moves.iter().map(|m| m.bytes_to_copy).sum();
        tracing::debug!(way = k, over_count, bytes, "relief: way tried");
        if best
            .as_ref()
            .is_none_or(|(o, by, _)| (over_count, bytes) < (*o, *by))
        {
            best = Some((over_count, bytes, trial));
        }
    }
    if let Some((_, _, trial)) = best {
        *st = trial;
    }
    let relabel: Vec<(usize, MoveReason)> = st.plan.moves[moves_before..]
        .iter()
        .enumerate()
        .filter_map(|(i, m)| match m.reason {
            MoveReason::Balance {
                from,
                resource,
                load_bytes_per_sec,
                ..
            } => {
                let &b = brokers.iter().find(|&&b| st.ids[b as usize] == from)?;
                let reason = MoveReason::Relieve {
                    from,
                    resource,
                    load_bytes_per_sec,
                    limit_bytes_per_sec: own_limit(st, b, resource),
                };
                Some((moves_before + i, reason))
            }
            _ => None,
        })
        .collect();
    for (i, reason) in relabel {
        st.plan.moves[i].reason = reason;
    }
    for resource in RESOURCES {
        for &b in brokers {
            let (load, _) = figures(st, b, resource);
            let limit = own_limit(st, b, resource);
            if load > limit {
                st.plan.warnings.push(Warning::StillOverLimit {
                    broker: st.ids[b as usize],
                    resource,
                    load_bytes_per_sec: load,
                    limit_bytes_per_sec: limit,
                });
            }
        }
    }
    for &b in brokers {
        st.accepts[b as usize] = true;
    }
    st.refresh_all_rooms();
}

/// Broker `b`'s configured limit for `resource`: its net capacity, or its disk capacity times
/// `max_disk_utilization`.
fn own_limit(st: &State, b: u32, resource: Resource) -> u64 {
    let cap = st.cap[b as usize];
    match resource {
        Resource::NetIn => cap.net_in_bytes_per_sec,
        Resource::NetOut => cap.net_out_bytes_per_sec,
        Resource::Disk => (cap.disk_bytes as f64 * st.limits.max_disk_utilization) as u64,
    }
}

/// Sets the relieved `brokers`' net in, net out and disk limits to `to` (if given) and returns
/// the ones they had.
fn set_source_limits(st: &mut State, brokers: &[u32], to: Option<&[[u64; 3]]>) -> Vec<[u64; 3]> {
    let mut had = Vec::with_capacity(brokers.len());
    for (i, &b) in brokers.iter().enumerate() {
        let bu = b as usize;
        had.push([st.lim_in[bu], st.lim_out[bu], st.lim_disk[bu]]);
        if let Some(to) = to {
            [st.lim_in[bu], st.lim_out[bu], st.lim_disk[bu]] = to[i];
        }
    }
    had
}

/// Relief rounds of `way` on the relieved `brokers`.
fn rounds(st: &mut State, brokers: &[u32], way: &Way) {
    for round in 0..MAX_ROUNDS {
        let before = (st.plan.moves.len(), st.plan.elections.len());
        let order = by_excess(st, brokers);
        for &b in &order {
            balance::elect_off(st, b);
        }
        for resource in way.order {
            for &b in &order {
                if !over(st, b, resource) {
                    continue;
                }
                if way.cover {
                    cover(st, b, resource);
                } else {
                    for leaders in [resource == Resource::NetOut, true] {
                        if over(st, b, resource) {
                            balance::relieve(st, b, resource, leaders);
                        }
                    }
                }
            }
        }
        let after = (st.plan.moves.len(), st.plan.elections.len());
        tracing::debug!(round, moves = after.0, elections = after.1, "relief round");
        if after == before || by_excess(st, brokers).is_empty() {
            break;
        }
    }
}

/// Moves replicas off `b` until its `resource` excess is gone, with the fewer bytes of two
/// covers of the excess (before targets are looked at):
///
/// - **greedy**: fewest bytes per unit of relief first, each no bigger than what is left, then
///   the smallest single replica that clears the rest (balance's order);
/// - **single**: the smallest replica that clears the whole excess alone.
///
/// Greedy alone can copy several replicas and still fall short where one bigger replica
/// would have cleared it (a relief property test found 88 GB moved, still over, where one
/// 73 GB move cleared it). A replica with no target is skipped; what is still over after the
/// chosen cover is left to balance's own passes (`balance::relieve`) over what remains.
/// Net out is relieved by led replicas only; net in and disk by any replica of `b`, led ones
/// relieving net out too.
fn cover(st: &mut State, b: u32, resource: Resource) {
    let excess = |st: &State| {
        let (load, limit) = figures(st, b, resource);
        load.saturating_sub(limit)
    };
    let e = excess(st);
    let mut cands: Vec<(u64, u64, u32)> = st.hosted[b as usize]
        .iter()
        .copied()
        .filter(|&p| slot_movable(st, p, b))
        .map(|p| {
            let leads = st.leader[p as usize] == b;
            let size = st.snap.partitions[p as usize].size_bytes;
            (size, relief(st, p, resource, leads), p)
        })
        .filter(|c| c.1 > 0)
        .collect();
    // size / relief ascending, compared exactly as size_a * relief_b < size_b * relief_a.
    cands.sort_unstable_by(|a, c| {
        (a.0 as u128 * c.1 as u128)
            .cmp(&(c.0 as u128 * a.1 as u128))
            .then(a.2.cmp(&c.2))
    });
    let (mut greedy, mut left, mut greedy_bytes) = (Vec::new(), e, 0u128);
    for &(size, r, p) in &cands {
        if left == 0 {
            break;
        }
        if r <= left {
            greedy.push(p);
            left -= r;
            greedy_bytes += size as u128;
        }
    }
    if left > 0 {
        let last = cands
            .iter()
            .filter(|c| c.1 >= left && !greedy.contains(&c.2))
            .min_by_key(|c| (c.0, c.2));
        match last {
            Some(&(size, _, p)) => {
                greedy.push(p);
                greedy_bytes += size as u128;
            }
            None => greedy_bytes = u128::MAX,
        }
    }
    let single = cands.iter().filter(|c| c.1 >= e).min_by_key(|c| (c.0, c.2));
    let order = match single {
        Some(&(size, _, p)) if (size as u128) < greedy_bytes => vec![p],
        _ => greedy,
    };
    tracing::debug!(
        broker = st.ids[b as usize],
        %resource,
        excess = e,
        replicas = order.len(),
        "relief: cover chosen"
    );
    for p in order {
        if excess(st) == 0 {
            return;
        }
        try_move(st, p, b, resource);
    }
    for leaders in [false, true] {
        if excess(st) > 0 {
            balance::relieve(st, b, resource, leaders);
        }
    }
}

fn over(st: &State, b: u32, resource: Resource) -> bool {
    let (load, limit) = figures(st, b, resource);
    load > limit
}

/// The brokers of `brokers` over any of their limits, largest relative excess first.
fn by_excess(st: &State, brokers: &[u32]) -> Vec<u32> {
    let mut v: Vec<(f64, u32)> = brokers
        .iter()
        .filter_map(|&b| {
            let worst = RESOURCES
                .iter()
                .map(|&r| {
                    let (load, limit) = figures(st, b, r);
                    load as f64 / limit.max(1) as f64
                })
                .fold(0f64, f64::max);
            RESOURCES
                .iter()
                .any(|&r| over(st, b, r))
                .then_some((worst, b))
        })
        .collect();
    v.sort_unstable_by(|a, c| c.0.total_cmp(&a.0).then(a.1.cmp(&c.1)));
    v.into_iter().map(|(_, b)| b).collect()
}
