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
//! 2. **replica moves** for what is left of net in, net out and disk at once ([`cover`]): the
//!    cheapest set the greedy finds of replicas that have a target, a led one freeing net in
//!    and net out together; then balance's own passes (`balance::relieve`, led replicas first
//!    for net out) for whatever no cover could clear.
//!
//! Three ways are tried on copies of the state (see [`WAYS`]: the cover, and balance's passes
//! alone to the broker's own limits or to balance's tighter ones); the one that leaves the
//! fewest limits exceeded, then copies the fewest bytes, is kept.
//!
//! Only replicas on the named brokers move, so only partitions with a replica there are
//! touched; no move lands on another named broker, and leadership goes to none. Targets come
//! from `place::pick_target` (rack rule first), and every DESIGN.md safety rule of balance
//! holds (frozen, in-flight and not-in-sync partitions are left alone; RF kept; the byte budget
//! and per-broker move limits hold). A broker still over afterwards (no target with room) is
//! reported as [`Warning::StillOverLimit`] with its load and limit.

use super::balance::{self, figures, relief, slot_movable, try_move};
use super::place::{pick_target, Score};
use super::reason::{MoveReason, Resource, Warning};
use super::state::State;

/// Rounds of the steps; each round only runs if the previous one changed something.
const MAX_ROUNDS: usize = 4;

/// One way to relieve: whether [`cover`] chooses the moves (balance's own passes then take
/// what it could not clear) or balance's passes alone do.
struct Way {
    cover: bool,
    /// Work to the balance limit (`target_ratio` x the mean) instead of the broker's own, as
    /// balance would: more relief than needed, but its leader moves sometimes clear net in
    /// and net out together with fewer bytes than relieving each to its own limit does.
    tight: bool,
}

/// The ways tried. The cover wins most (2,914 of 3,006 random rack-aware clusters of the
/// relief property test); balance's passes win where the cover leaves a broker over (no
/// target for the replicas it would pick) or copy a few GB less.
const WAYS: [Way; 3] = [
    Way {
        cover: true,
        tight: false,
    },
    Way {
        cover: false,
        tight: false,
    },
    Way {
        cover: false,
        tight: true,
    },
];

const RESOURCES: [Resource; 3] = [Resource::NetIn, Resource::NetOut, Resource::Disk];

/// The order of balance's passes: net out first, its led replica moves free net in too.
const PASSES: [Resource; 3] = [Resource::NetOut, Resource::NetIn, Resource::Disk];

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
                limit_bytes_per_sec,
            } => {
                let &b = brokers.iter().find(|&&b| st.ids[b as usize] == from)?;
                // The move was chosen against the limit relief works to (the margin under the
                // configured limit, or balance's tighter one): the load is over that figure,
                // not always over the configured limit, and the reason says which.
                let reason = MoveReason::Relieve {
                    from,
                    resource,
                    load_bytes_per_sec,
                    limit_bytes_per_sec: own_limit(st, b, resource),
                    over_bytes_per_sec: limit_bytes_per_sec,
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
        if way.cover {
            for &b in &order {
                if excess(st, b) != [0; 3] {
                    cover(st, b);
                }
            }
        }
        for resource in PASSES {
            for &b in &order {
                for leaders in [resource == Resource::NetOut, true] {
                    if over(st, b, resource) {
                        balance::relieve(st, b, resource, leaders);
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

/// Moves replicas off `b` until it is under every limit, copying the fewest bytes that the
/// greedy below finds, each replica only if it has a target now (within every limit and rule,
/// `place::pick_target`).
///
/// A replica relieves net in (any replica), net out (a led one) and disk at once; its worth is
/// the share of each remaining excess it clears (capped at the excess), summed, and its cost
/// its bytes. The greedy moves the replica of least bytes per unit of worth, one at a time,
/// re-weighing after each; before each step it notes the **closer**: the smallest replica with
/// a target that alone clears all that is left. The cheapest of "the steps so far plus that
/// closer" and "the greedy to the end" wins, so a tiny excess takes the one partition just over
/// it, not many low-traffic ones, and a big one takes the greedy fill.
///
/// Why targets are looked at while choosing: a choice made from sizes alone (this function
/// before) picked replicas that then found no target, and the balance passes it fell back on
/// cleared the rest with the biggest replicas: on a random rack-aware cluster, 386 GB where
/// 77 GB did. The greedy runs on a copy of the state; the winner is replayed on `st` (the
/// moves are deterministic, so the replay lands the same targets).
fn cover(st: &mut State, b: u32) {
    let mut trial = st.clone();
    let found = greedy(&mut trial, b);
    tracing::debug!(
        broker = st.ids[b as usize],
        excess = ?excess(st, b),
        steps = found.steps.len(),
        kept = found.prefix,
        closer = ?found.closer,
        bytes = found.bytes,
        "relief: cover chosen"
    );
    if found.closer.is_none() && found.prefix == found.steps.len() {
        *st = trial;
        return;
    }
    drop(trial);
    for &p in found.steps[..found.prefix].iter().chain(&found.closer) {
        let resource = label(&relief_of(st, b, p), &excess(st, b));
        if !try_move(st, p, b, resource) {
            // Cannot happen (the same moves on the same state): said, not hidden.
            tracing::warn!(
                broker = st.ids[b as usize],
                partition = p,
                "relief: replayed move found no target"
            );
        }
    }
}

/// What [`greedy`] found: the greedy's moves in order, how many of them to keep, and the closer
/// to add after them (if that was cheaper than the greedy to the end).
struct Found {
    steps: Vec<u32>,
    prefix: usize,
    closer: Option<u32>,
    bytes: u128,
}

/// The greedy of [`cover`] on `st` (a copy): moves its steps, returns the cheapest option seen.
fn greedy(st: &mut State, b: u32) -> Found {
    // (partition, size, relief); a replica that failed to move or has no target (no room,
    // move or byte limit) is dropped: targets only fill up while one broker is relieved, so
    // it never would later. Each pick is a scan for the least, not a sort: a hot broker of
    // the 270-broker bench holds ~5,000 replicas and needs hundreds of moves.
    let mut cands: Vec<(u32, u64, [u64; 3])> = st.hosted[b as usize]
        .iter()
        .copied()
        .filter(|&p| slot_movable(st, p, b))
        .map(|p| {
            (
                p,
                st.snap.partitions[p as usize].size_bytes,
                relief_of(st, b, p),
            )
        })
        .collect();
    let mut steps = Vec::new();
    let mut spent = 0u128;
    // (bytes, moves, prefix, closer) of the cheapest option so far.
    type Choice = (u128, usize, usize, Option<u32>);
    let mut best: Option<Choice> = None;
    let consider = |best: &mut Option<Choice>, option: Choice| {
        if best.is_none_or(|old| (option.0, option.1) < (old.0, old.1)) {
            *best = Some(option);
        }
    };
    loop {
        let e = excess(st, b);
        if e == [0; 3] {
            consider(&mut best, (spent, steps.len(), steps.len(), None));
            break;
        }
        if best.is_some_and(|old| old.0 <= spent) {
            break; // every option from here costs more
        }
        // The closer: smallest replica that clears all of `e` alone, with a target now.
        while let Some((i, &(p, size, _))) = cands
            .iter()
            .enumerate()
            .filter(|(_, c)| (0..3).all(|r| c.2[r] >= e[r]))
            .min_by_key(|(_, c)| (c.1, c.0))
        {
            if has_target(st, p, b) {
                let option = (spent + size as u128, steps.len() + 1, steps.len(), Some(p));
                consider(&mut best, option);
                break;
            }
            cands.swap_remove(i);
        }
        // The greedy step: least bytes per unit of worth first.
        let moved = loop {
            let pick = cands
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let w = worth(&c.2, &e);
                    (w > 0.0).then(|| (c.1 as f64 / w, c.0, i))
                })
                .min_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            let Some((_, p, i)) = pick else {
                break None;
            };
            let (_, size, r) = cands.swap_remove(i);
            if try_move(st, p, b, label(&r, &e)) {
                break Some((p, size));
            }
        };
        let Some((p, size)) = moved else {
            break;
        };
        steps.push(p);
        spent += size as u128;
    }
    let (bytes, prefix, closer) = match best {
        Some((bytes, _, prefix, closer)) => (bytes, prefix, closer),
        // Never cleared: keep every step (the most relief there is room for).
        None => (spent, steps.len(), None),
    };
    Found {
        steps,
        prefix,
        closer,
        bytes,
    }
}

/// Broker `b`'s excess over its net in, net out and disk limits.
fn excess(st: &State, b: u32) -> [u64; 3] {
    RESOURCES.map(|r| {
        let (load, limit) = figures(st, b, r);
        load.saturating_sub(limit)
    })
}

/// What moving the replica of `p` off `b` takes off it: net in, net out (if `b` leads `p`),
/// disk.
fn relief_of(st: &State, b: u32, p: u32) -> [u64; 3] {
    let leads = st.leader[p as usize] == b;
    RESOURCES.map(|r| relief(st, p, r, leads))
}

/// Share of each excess of `e` that relief `r` clears (each at most 1), summed.
fn worth(r: &[u64; 3], e: &[u64; 3]) -> f64 {
    (0..3).map(|i| share(r, e, i)).sum()
}

/// Share of excess `e[i]` that relief `r` clears, at most 1 (0 where there is no excess).
fn share(r: &[u64; 3], e: &[u64; 3], i: usize) -> f64 {
    if e[i] == 0 {
        0.0
    } else {
        r[i].min(e[i]) as f64 / e[i] as f64
    }
}

/// The resource a move of relief `r` against excess `e` is made for (its reason): the one it
/// clears the largest share of.
fn label(r: &[u64; 3], e: &[u64; 3]) -> Resource {
    let i = (0..3).fold(0, |best, i| {
        if share(r, e, i) > share(r, e, best) {
            i
        } else {
            best
        }
    });
    RESOURCES[i]
}

/// Whether the replica of `p` on `b` could move now: movable, within the move and byte
/// limits, and some broker can take it ([`try_move`]'s checks, without moving).
fn has_target(st: &State, p: u32, b: u32) -> bool {
    if !slot_movable(st, p, b)
        || st.moves[b as usize].outgoing >= st.limits.max_moves_per_broker
        || st.snap.partitions[p as usize].size_bytes > st.bytes_left
    {
        return false;
    }
    st.replicas(p)
        .iter()
        .position(|&x| x == b)
        .is_some_and(|k| pick_target(st, p, k, Score::Net).is_ok())
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
