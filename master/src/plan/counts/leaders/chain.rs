//! Chains of elections: one leadership leaves a broker above the band's top and reaches a
//! broker below it, passing through brokers that lead as many partitions as before.
//!
//! On Cruise Control's skewed cluster (RF 3 over 3 racks) single and paired elections left
//! leader counts at max/mean 1.337: of the leaderships on brokers above the band's top, about
//! half had every other in-sync replica on a broker already at the top. A chain passes one
//! through such a broker: `h` hands `p` to `x`, `x` hands another partition on, and so on until
//! a broker below the top. Two kinds of link:
//!
//! - **direct:** `b` hands `p` to an in-sync replica `x` when that election keeps `p`'s topic's
//!   leader spread across racks on its own ([`TopicRacks::keeps_spread`]);
//! - **round trip:** `b` hands `p` (topic `T`) to `x` in another rack, and `x` hands a partition
//!   `q` of `T` to `c` in `b`'s rack: `T`'s leaders per rack and `x`'s count are unchanged, so
//!   one leadership moves inside `b`'s rack through a broker of another (with RF = rack count
//!   no election stays inside a rack).
//!
//! The search is breadth-first over brokers from `h`, at most [`MAX_DEPTH`] steps deep and
//! [`MAX_WORK`] partitions looked at; at the first depth that reaches brokers below the top,
//! they are tried fewest leaders first. A chain
//! is checked as a whole before any election: each partition once, every broker's net out
//! within its limit after all the chain's elections, and each touched topic's leaders per rack
//! with a maximum no higher and a minimum no lower than before. Zero bytes: every new leader is
//! an original in-sync replica of an [`electable`](super::electable) partition.

use std::collections::{HashMap, HashSet};

use super::pair::LedByTopic;
use super::TopicRacks;
use crate::plan::snapshot::TopicId;
use crate::plan::state::{State, NONE};

/// One election of a chain: `p`'s leadership from `from` to `to`, the replica in slot `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Link {
    pub(super) p: u32,
    pub(super) k: usize,
    pub(super) from: u32,
    pub(super) to: u32,
}

/// Deepest chain searched, in steps (a round trip is one step of two elections).
const MAX_DEPTH: usize = 4;

/// Most partitions one search looks at before it gives up. Cruise Control's skewed cluster
/// (16,700 partitions) fits whole; at 270 brokers / 1.3M replicas with racks of 4/3/2 (the
/// small rack's brokers pinned above the band by the AZ spread) searches over every broker,
/// one per leadership, took minutes.
const MAX_WORK: usize = 50_000;

/// A chain moving one leadership from `h` to a broker leading fewer than `high` (and at least
/// two fewer than `h`), its elections in order; `None` when there is none within reach.
pub(super) fn from_over(
    st: &State,
    az: &TopicRacks,
    led: &LedByTopic,
    count: &[u32],
    high: u32,
    h: u32,
) -> Option<Vec<Link>> {
    // Sinks fewest leaders first.
    let sink = |c: u32, gain: u64| {
        let cu = c as usize;
        (count[cu] < high
            && count[cu] + 1 < count[h as usize]
            && st.load[cu].net_out.saturating_add(gain) <= st.lim_out[cu])
            .then_some(i64::from(count[cu]))
    };
    let steps = search(st, az, h, sink, |b, gain, seen, found| {
        steps_from(st, az, led, h, b, gain, seen, found)
    })?;
    Some(steps.concat())
}

/// A chain moving one leadership to `u` (below the band) from a broker leading more than
/// `mean` (and at least two more than `u`), its elections in order.
pub(super) fn into_under(
    st: &State,
    az: &TopicRacks,
    led: &LedByTopic,
    count: &[u32],
    mean: f64,
    u: u32,
) -> Option<Vec<Link>> {
    // Sources most leaders first.
    let source = |s: u32, _| {
        let c = count[s as usize];
        (f64::from(c) > mean && c > count[u as usize] + 1).then_some(-i64::from(c))
    };
    let mut steps = search(st, az, u, source, |c, loss, seen, found| {
        steps_into(st, az, led, c, loss, seen, found)
    })?;
    // Found from the sink back: the source's step first.
    steps.reverse();
    Some(steps.concat())
}

/// Breadth-first from `root`, at most [`MAX_DEPTH`] steps and [`MAX_WORK`] partitions:
/// `step(b, flow, seen, found)` reports the brokers one step from `b` (`flow`: the net out `b`
/// gains, or hands on, through the step that reached it) and returns the partitions it looked
/// at; at the first depth where some reached brokers are ends (`end` gives a rank), those are
/// tried lowest rank first and the first valid chain returned: its steps from the root, each
/// step's links in election order.
fn search(
    st: &State,
    az: &TopicRacks,
    root: u32,
    end: impl Fn(u32, u64) -> Option<i64>,
    mut step: impl FnMut(u32, u64, &mut [bool], &mut dyn FnMut(u32, Vec<Link>)) -> usize,
) -> Option<Vec<Vec<Link>>> {
    let n = st.ids.len();
    let mut seen = vec![false; n];
    // Each reached broker's step (the broker it was reached from, and one or two links) and
    // the net out that step moves.
    let mut parent: Vec<Option<(u32, Vec<Link>)>> = vec![None; n];
    let mut flow = vec![0u64; n];
    seen[root as usize] = true;
    let mut frontier = vec![root];
    let mut work = 0usize;
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for &b in &frontier {
            work += step(b, flow[b as usize], &mut seen, &mut |to, links| {
                flow[to as usize] = link_flow(st, to, &links);
                parent[to as usize] = Some((b, links));
                next.push(to);
            });
            if work > MAX_WORK {
                break;
            }
        }
        let mut ends: Vec<(i64, u32)> = next
            .iter()
            .filter_map(|&c| Some((end(c, flow[c as usize])?, c)))
            .collect();
        ends.sort_unstable();
        for (_, e) in ends {
            let steps = walk(&parent, e);
            if valid(st, az, &steps.concat()) {
                return Some(steps);
            }
        }
        if next.is_empty() || work > MAX_WORK {
            break;
        }
        frontier = next;
    }
    None
}

/// The net out broker `to` gains (it is the step's last receiver) or hands on (its first giver).
fn link_flow(st: &State, to: u32, links: &[Link]) -> u64 {
    let l = if links[links.len() - 1].to == to {
        links[links.len() - 1]
    } else {
        links[0]
    };
    st.leader_out(l.p)
}

/// The steps from the search's root to `s`.
fn walk(parent: &[Option<(u32, Vec<Link>)>], s: u32) -> Vec<Vec<Link>> {
    let mut steps = Vec::new();
    let mut at = s;
    while let Some((prev, links)) = &parent[at as usize] {
        steps.push(links.clone());
        at = *prev;
    }
    steps.reverse();
    steps
}

/// Calls `found(to, links)` for each broker not yet `seen` that one step from `b` reaches (and
/// marks it seen). `b` gained `gain` of net out from its own step in (0 for the root `h`).
#[allow(clippy::too_many_arguments)]
fn steps_from(
    st: &State,
    az: &TopicRacks,
    led: &LedByTopic,
    h: u32,
    b: u32,
    gain: u64,
    seen: &mut [bool],
    found: &mut dyn FnMut(u32, Vec<Link>),
) -> usize {
    let bu = b as usize;
    let mut scanned: HashSet<(TopicId, u32)> = HashSet::new();
    let mut work = st.hosted[bu].len();
    for &p in &st.hosted[bu] {
        if st.leader[p as usize] != b || !led.electable(p) {
            continue;
        }
        let op = st.leader_out(p);
        // A broker between hands `p` on for what it took: its net out after both.
        if b != h && st.load[bu].net_out.saturating_add(gain) > st.lim_out[bu].saturating_add(op) {
            continue;
        }
        for (k, &x) in st.replicas(p).iter().enumerate() {
            let xu = x as usize;
            if x == b || !st.accepts[xu] || !st.slot_in_sync(p, k) {
                continue;
            }
            if !seen[xu] && az.keeps_spread(st, p, b, x) {
                seen[xu] = true;
                found(
                    x,
                    vec![Link {
                        p,
                        k,
                        from: b,
                        to: x,
                    }],
                );
            }
            let topic = st.snap.partitions[p as usize].topic;
            if st.rack[xu] == st.rack[bu] || !scanned.insert((topic, x)) {
                continue;
            }
            work += led.led(topic, x).len();
            for &q in led.led(topic, x) {
                if q == p || st.leader[q as usize] != x || !led.electable(q) {
                    continue;
                }
                let oq = st.leader_out(q);
                if st.load[xu].net_out.saturating_add(op) > st.lim_out[xu].saturating_add(oq) {
                    continue;
                }
                for (j, &c) in st.replicas(q).iter().enumerate() {
                    let cu = c as usize;
                    if c != b
                        && !seen[cu]
                        && st.rack[cu] == st.rack[bu]
                        && st.accepts[cu]
                        && st.slot_in_sync(q, j)
                    {
                        seen[cu] = true;
                        found(c, round_trip((p, k), b, x, (q, j), c));
                    }
                }
            }
        }
    }
    work
}

/// Calls `found(from, links)` for each broker not yet `seen` that may give `c` a leadership in
/// one step (and marks it seen): the steps of [`steps_from`], searched from the receiving end.
/// `c` hands on `loss` of net out through the step that reached it (0 for the root).
fn steps_into(
    st: &State,
    az: &TopicRacks,
    led: &LedByTopic,
    c: u32,
    loss: u64,
    seen: &mut [bool],
    found: &mut dyn FnMut(u32, Vec<Link>),
) -> usize {
    let cu = c as usize;
    if !st.accepts[cu] {
        return 0;
    }
    let mut scanned: HashSet<(TopicId, u32)> = HashSet::new();
    let mut work = st.hosted[cu].len();
    for &q in &st.hosted[cu] {
        let x = st.leader[q as usize];
        if x == NONE || x == c || !led.electable(q) {
            continue;
        }
        let Some(j) = st.replicas(q).iter().position(|&r| r == c) else {
            continue;
        };
        let oq = st.leader_out(q);
        if !st.slot_in_sync(q, j)
            || st.load[cu].net_out.saturating_add(oq) > st.lim_out[cu].saturating_add(loss)
        {
            continue;
        }
        let xu = x as usize;
        if !seen[xu] && az.keeps_spread(st, q, x, c) {
            seen[xu] = true;
            found(
                x,
                vec![Link {
                    p: q,
                    k: j,
                    from: x,
                    to: c,
                }],
            );
        }
        let topic = st.snap.partitions[q as usize].topic;
        let rack = st.rack[cu];
        if st.rack[xu] == rack || rack == NONE || !st.accepts[xu] || !scanned.insert((topic, x)) {
            continue;
        }
        for &b in &st.rack_brokers[rack as usize] {
            if b == c || seen[b as usize] {
                continue;
            }
            work += led.led(topic, b).len();
            let back = led.led(topic, b).iter().find_map(|&p| {
                if p == q || st.leader[p as usize] != b || !led.electable(p) {
                    return None;
                }
                let k = st.replicas(p).iter().position(|&r| r == x)?;
                let fits = st.load[xu].net_out.saturating_add(st.leader_out(p))
                    <= st.lim_out[xu].saturating_add(oq);
                (st.slot_in_sync(p, k) && fits).then_some((p, k))
            });
            if let Some((p, k)) = back {
                seen[b as usize] = true;
                found(b, round_trip((p, k), b, x, (q, j), c));
            }
        }
    }
    work
}

/// A round trip's two links: `p` (slot `k`) from `b` to `x`, then `q` (slot `j`) from `x` to `c`.
fn round_trip((p, k): (u32, usize), b: u32, x: u32, (q, j): (u32, usize), c: u32) -> Vec<Link> {
    let there = Link {
        p,
        k,
        from: b,
        to: x,
    };
    vec![
        there,
        Link {
            p: q,
            k: j,
            from: x,
            to: c,
        },
    ]
}

/// Whether `chain`'s elections may all be planned: each partition once, every broker's net out
/// within its limit after all of them, and each touched topic's leaders per rack with a maximum
/// no higher and a minimum no lower than before.
fn valid(st: &State, az: &TopicRacks, chain: &[Link]) -> bool {
    let mut parts: Vec<u32> = chain.iter().map(|l| l.p).collect();
    parts.sort_unstable();
    parts.dedup();
    if parts.len() != chain.len() {
        return false;
    }
    let mut out: HashMap<u32, i128> = HashMap::new();
    let mut racks: HashMap<usize, i64> = HashMap::new();
    for l in chain {
        let o = i128::from(st.leader_out(l.p));
        *out.entry(l.from).or_default() -= o;
        *out.entry(l.to).or_default() += o;
        if st.rack[l.from as usize] == st.rack[l.to as usize] {
            continue;
        }
        match (az.slot_of(st, l.p, l.from), az.slot_of(st, l.p, l.to)) {
            (Some(f), Some(t)) => {
                *racks.entry(f).or_default() -= 1;
                *racks.entry(t).or_default() += 1;
            }
            _ => return false,
        }
    }
    let net_out_fits = out.iter().all(|(&b, &d)| {
        d <= 0 || i128::from(st.load[b as usize].net_out) + d <= i128::from(st.lim_out[b as usize])
    });
    net_out_fits && az.spread_kept(&racks)
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
