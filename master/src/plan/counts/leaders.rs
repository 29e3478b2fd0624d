//! Leader counts per broker within a band of the mean ([`super`]): elections only, zero bytes.
//!
//! - A broker above the band hands leadership of its partitions to an in-sync peer below the
//!   band's top, preferred replicas first, the peer with fewest leaders first; then paired
//!   elections ([`pair`]) and chains of elections ([`chain`]) through peers at the top.
//! - A broker below the band takes leadership from its most-leading in-sync peer above the
//!   mean.
//!
//! An election that changes racks must never widen its topic's leader spread across AZs
//! (issue 11): leadership goes only from a rack leading more of the topic to one leading
//! fewer, or a chain's elections leave each topic's leaders per rack as they were, so the
//! per-AZ spread, which runs before this step in a balance plan ([`crate::plan::az_leaders`]),
//! is never undone here.

use std::collections::{HashMap, HashSet};

use super::{accepting, Band};
use crate::plan::reason::ElectionReason;
use crate::plan::state::{Frozen, State, NONE};

mod chain;
mod pair;

/// Each topic's leaders per rack, kept current as the leader-count step elects.
struct TopicRacks {
    racks: usize,
    /// `topic * racks + rack` -> leaders.
    led: Vec<u32>,
}

impl TopicRacks {
    fn new(st: &State) -> Self {
        let racks = st.rack_names.len();
        let mut led = vec![0u32; st.snap.topics.len() * racks];
        for (p, &l) in st.leader.iter().enumerate() {
            if let Some(i) = Self::slot(st, racks, p as u32, l) {
                led[i] += 1;
            }
        }
        TopicRacks { racks, led }
    }

    fn slot(st: &State, racks: usize, p: u32, b: u32) -> Option<usize> {
        if b == NONE {
            return None;
        }
        let rack = *st.rack.get(b as usize)?;
        let topic = st.snap.partitions.get(p as usize)?.topic.0 as usize;
        (rack != NONE).then_some(topic * racks + rack as usize)
    }

    /// Whether moving `p`'s leadership from `from` to `to` keeps its topic's spread across
    /// racks: the same rack, or from a rack leading more of the topic to one leading fewer.
    fn keeps_spread(&self, st: &State, p: u32, from: u32, to: u32) -> bool {
        if st.rack.get(from as usize) == st.rack.get(to as usize) {
            return true;
        }
        match (
            Self::slot(st, self.racks, p, from),
            Self::slot(st, self.racks, p, to),
        ) {
            (Some(f), Some(t)) => self.led[t] < self.led[f],
            // A broker without a rack: leave the topic's racks alone.
            _ => false,
        }
    }

    /// `p`'s topic-and-rack slot for leader `b` (`None` without a rack).
    fn slot_of(&self, st: &State, p: u32, b: u32) -> Option<usize> {
        Self::slot(st, self.racks, p, b)
    }

    /// Whether changing the leaders of each `topic * racks + rack` slot by `delta` leaves every
    /// touched topic's most leaders in a rack no higher and fewest no lower than now.
    fn spread_kept(&self, delta: &HashMap<usize, i64>) -> bool {
        let topics: HashSet<usize> = delta
            .iter()
            .filter(|&(_, &d)| d != 0)
            .map(|(&s, _)| s / self.racks)
            .collect();
        topics.into_iter().all(|t| {
            let base = t * self.racks;
            let old = &self.led[base..base + self.racks];
            let new = || {
                old.iter()
                    .enumerate()
                    .map(move |(r, &v)| i64::from(v) + delta.get(&(base + r)).copied().unwrap_or(0))
            };
            let (max, min) = (old.iter().max(), old.iter().min());
            new().max() <= max.map(|&m| i64::from(m)) && new().min() >= min.map(|&m| i64::from(m))
        })
    }

    fn moved(&mut self, st: &State, p: u32, from: u32, to: u32) {
        if let Some(f) = Self::slot(st, self.racks, p, from) {
            self.led[f] = self.led[f].saturating_sub(1);
        }
        if let Some(t) = Self::slot(st, self.racks, p, to) {
            self.led[t] += 1;
        }
    }
}

pub(super) fn leaders(st: &mut State, band: f64) {
    let brokers = accepting(st);
    if brokers.is_empty() {
        return;
    }
    let mut count = vec![0u32; st.ids.len()];
    for &l in &st.leader {
        if l != NONE {
            count[l as usize] += 1;
        }
    }
    let total: u32 = brokers.iter().map(|&b| count[b as usize]).sum();
    let mean = total as f64 / brokers.len() as f64;
    let Band { low, high } = Band::around(mean, band);
    let mut az = TopicRacks::new(st);
    let rack_mean = rack_means(st, &count);
    let mut led = pair::LedByTopic::new(st);
    // Above the band: give leadership away.
    let mut over: Vec<u32> = brokers
        .iter()
        .copied()
        .filter(|&b| count[b as usize] > high)
        .collect();
    over.sort_unstable_by_key(|&b| (std::cmp::Reverse(count[b as usize]), b));
    for b in over {
        let mut parts: Vec<(bool, u64, u32)> = st.hosted[b as usize]
            .iter()
            .copied()
            .filter(|&p| st.leader[p as usize] == b && led.electable(p))
            .map(|p| (st.replicas(p)[0] == b, st.leader_out(p), p))
            .collect();
        // Partitions whose preferred replica is another broker first, then least net out.
        parts.sort_unstable();
        for (_, out, p) in parts {
            if count[b as usize] <= high {
                break;
            }
            let pick = st
                .replicas(p)
                .iter()
                .enumerate()
                .filter(|&(k, &x)| {
                    x != b
                        && takes_lead(st, p, k, out)
                        && count[x as usize] < high
                        && az.keeps_spread(st, p, b, x)
                })
                .min_by_key(|&(k, &x)| (k != 0, count[x as usize], x))
                .map(|(k, &x)| (k, x));
            if let Some((k, x)) = pick {
                elect(st, &mut count, p, k, b, x, Band { low, high });
                az.moved(st, p, b, x);
                led.gained(st, p, x);
                continue;
            }
            // No single election keeps the topic's spread across racks: pair one with an
            // election back into `b`'s rack ([`pair`]).
            let mut cands: Vec<(usize, u32)> = st
                .replicas(p)
                .iter()
                .enumerate()
                .filter(|&(k, &x)| x != b && count[x as usize] < high && takes_lead(st, p, k, out))
                .map(|(k, &x)| (k, x))
                .collect();
            cands.sort_unstable_by_key(|&(k, x)| (k != 0, count[x as usize], x));
            for (k, x) in cands {
                if let Some((q, kz, y, z)) = pair::compensation(st, &mut led, &count, high, p, b, x)
                {
                    tracing::debug!(
                        over = st.ids[b as usize],
                        to = st.ids[x as usize],
                        back_from = st.ids[y as usize],
                        back_to = st.ids[z as usize],
                        "leader counts: paired elections keep the topic's racks"
                    );
                    elect(st, &mut count, p, k, b, x, Band { low, high });
                    elect(st, &mut count, q, kz, y, z, Band { low, high });
                    led.gained(st, p, x);
                    led.gained(st, q, z);
                    break;
                }
            }
        }
        // Still above: chains of elections through brokers at the top ([`chain`]), unless the
        // whole rack leads more than the band's top per broker.
        if rack_mean[b as usize].is_none_or(|m| m <= f64::from(high)) {
            let over = |c: &[u32]| c[b as usize] > high;
            Step::new(&mut count, &mut az, &mut led, Band { low, high }).chains(
                st,
                over,
                |st, az, led, c| chain::from_over(st, az, led, c, high, b),
            );
        }
    }
    // Below the band: take leadership from the most-leading in-sync peer above the mean.
    let mut under: Vec<u32> = brokers
        .iter()
        .copied()
        .filter(|&b| count[b as usize] < low)
        .collect();
    under.sort_unstable_by_key(|&b| (count[b as usize], b));
    for b in under {
        let mut parts: Vec<(std::cmp::Reverse<u32>, u64, u32, usize)> = st.hosted[b as usize]
            .iter()
            .copied()
            .filter(|&p| led.electable(p))
            .filter_map(|p| {
                let l = st.leader[p as usize];
                let k = st.replicas(p).iter().position(|&x| x == b)?;
                (l != b && count[l as usize] as f64 > mean)
                    .then(|| (std::cmp::Reverse(count[l as usize]), st.leader_out(p), p, k))
            })
            .collect();
        parts.sort_unstable();
        for (_, out, p, k) in parts {
            if count[b as usize] >= low {
                break;
            }
            let from = st.leader[p as usize];
            if count[from as usize] as f64 > mean
                && takes_lead(st, p, k, out)
                && az.keeps_spread(st, p, from, b)
            {
                elect(st, &mut count, p, k, from, b, Band { low, high });
                az.moved(st, p, from, b);
                led.gained(st, p, b);
            }
        }
        // Still below: chains from a broker above the mean ([`chain`]), unless the whole rack
        // leads fewer than the band's bottom per broker.
        if rack_mean[b as usize].is_none_or(|m| m >= f64::from(low)) {
            let under = |c: &[u32]| c[b as usize] < low;
            Step::new(&mut count, &mut az, &mut led, Band { low, high }).chains(
                st,
                under,
                |st, az, led, c| chain::into_under(st, az, led, c, mean, b),
            );
        }
    }
}

/// Each broker's rack's leaders per accepting broker (`None` without a rack). A rack whose mean
/// is outside the band is held there by the topics' spread across racks: with racks of 4, 3
/// and 2 parts of the brokers each leading a third of every topic, the small rack's brokers
/// all lead more than the band's top. Moves inside such a rack cannot bring its brokers in,
/// and at 270 brokers / 1.3M replicas searching a chain for each of them took 3.1 s of a
/// balance plan that had taken 1.2 s.
fn rack_means(st: &State, count: &[u32]) -> Vec<Option<f64>> {
    let mut sum = vec![(0u64, 0u64); st.rack_brokers.len()];
    for (r, bs) in st.rack_brokers.iter().enumerate() {
        for &b in bs.iter().filter(|&&b| st.accepts[b as usize]) {
            sum[r].0 += u64::from(count[b as usize]);
            sum[r].1 += 1;
        }
    }
    st.rack
        .iter()
        .map(|&r| match sum.get(r as usize) {
            Some(&(total, n)) if n > 0 => Some(total as f64 / n as f64),
            _ => None,
        })
        .collect()
}

/// What the chain searches read and their elections change.
struct Step<'a> {
    count: &'a mut [u32],
    az: &'a mut TopicRacks,
    led: &'a mut pair::LedByTopic,
    band: Band,
}

impl<'a> Step<'a> {
    fn new(
        count: &'a mut [u32],
        az: &'a mut TopicRacks,
        led: &'a mut pair::LedByTopic,
        band: Band,
    ) -> Self {
        Step {
            count,
            az,
            led,
            band,
        }
    }

    /// Plans the chains `find` returns while `more(leader counts)` holds.
    fn chains(
        &mut self,
        st: &mut State,
        more: impl Fn(&[u32]) -> bool,
        find: impl Fn(&State, &TopicRacks, &pair::LedByTopic, &[u32]) -> Option<Vec<chain::Link>>,
    ) {
        while more(self.count) {
            let Some(links) = find(st, self.az, self.led, self.count) else {
                break;
            };
            self.apply(st, &links);
        }
    }

    /// Plans a chain's elections ([`chain`]): its first giver loses one leadership, its last
    /// receiver gains one, the brokers between lead as many as before.
    fn apply(&mut self, st: &mut State, links: &[chain::Link]) {
        let (Some(first), Some(last)) = (links.first(), links.last()) else {
            return;
        };
        let reason = ElectionReason::LeaderChain {
            over: st.ids[first.from as usize],
            over_leaders: self.count[first.from as usize],
            under: st.ids[last.to as usize],
            under_leaders: self.count[last.to as usize],
            low: self.band.low,
            high: self.band.high,
        };
        for l in links {
            st.elect(l.p, l.k, reason.clone());
            self.count[l.from as usize] -= 1;
            self.count[l.to as usize] += 1;
            self.az.moved(st, l.p, l.from, l.to);
            self.led.gained(st, l.p, l.to);
        }
    }
}

/// Whether the count step may elect a new leader for `p`: a partition balance may move
/// ([`State::movable`]), or one this plan only moved followers of: not frozen, fully in sync in
/// the snapshot, its leader still the snapshot's (so not elected yet) in its original in-sync
/// slot. The election then joins the partition's one move (a zero-copy reorder of the new
/// list, [`State::elect`]), and the new leader must be an original in-sync replica
/// ([`takes_lead`]). On Cruise Control's skewed cluster balance had touched most partitions,
/// and leader counts stopped at max/mean 1.41.
fn electable(st: &State, p: u32) -> bool {
    if st.movable(p) {
        return true;
    }
    let pu = p as usize;
    let info = &st.snap.partitions[pu];
    let l = st.leader[pu];
    l != NONE
        && st.frozen[pu] == Frozen::No
        && info.leader == Some(st.ids[l as usize])
        && info.replicas.iter().all(|r| info.isr.contains(r))
        && st
            .replicas(p)
            .iter()
            .position(|&x| x == l)
            .is_some_and(|k| st.slot_in_sync(p, k))
}

/// Whether the replica in slot `k` of `p` may lead it: in sync, accepting, net out room.
fn takes_lead(st: &State, p: u32, k: usize, out: u64) -> bool {
    let x = st.replicas(p)[k] as usize;
    st.accepts[x]
        && st.slot_in_sync(p, k)
        && st.load[x].net_out.saturating_add(out) <= st.lim_out[x]
}

fn elect(st: &mut State, count: &mut [u32], p: u32, k: usize, from: u32, to: u32, band: Band) {
    let reason = ElectionReason::LeaderCount {
        from: st.ids[from as usize],
        to: st.ids[to as usize],
        from_leaders: count[from as usize],
        to_leaders: count[to as usize],
        low: band.low,
        high: band.high,
    };
    st.elect(p, k, reason);
    count[from as usize] -= 1;
    count[to as usize] += 1;
}
