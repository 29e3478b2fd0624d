//! SpreadLeaders: make each topic's leaders per rack as even as possible, by elections only.
//!
//! For each topic, while the rack leading the most of its partitions leads at least two more
//! than some live rack, one partition led in the busy rack gets a new leader in the quiet rack:
//! an in-sync replica there that accepts load and stays within its net-out capacity. A replica
//! that already is the preferred leader is chosen first (a plain preferred-leader election);
//! otherwise the replica list is reordered (zero-copy reassignment) to make it preferred, and
//! then elected, because Kafka's ElectLeaders only elects the preferred replica. No data moves.

use super::reason::ElectionReason;
use super::state::{State, NONE};

/// Spreads leaders in `st`.
pub(super) fn spread(st: &mut State) {
    let racks = st.rack_names.len();
    if st.live_racks < 2 {
        return;
    }
    let live: Vec<bool> = st
        .rack_brokers
        .iter()
        .map(|bs| bs.iter().any(|&b| st.accepts[b as usize]))
        .collect();
    for topic in by_topic(st) {
        // Partitions of the topic by the rack of their leader.
        let mut led: Vec<Vec<u32>> = vec![Vec::new(); racks];
        for &p in &topic {
            let l = st.leader[p as usize];
            if l != NONE && st.rack[l as usize] != NONE {
                led[st.rack[l as usize] as usize].push(p);
            }
        }
        let mut count: Vec<u32> = led.iter().map(|v| v.len() as u32).collect();
        while let Some((hi, lo, p, k)) = next_transfer(st, &led, &count, &live) {
            let reason = ElectionReason::SpreadLeaders {
                from_rack: st.rack_names[hi].clone(),
                to_rack: st.rack_names[lo].clone(),
                from_rack_leaders: count[hi],
                to_rack_leaders: count[lo],
            };
            st.elect(p, k, reason);
            led[hi].retain(|&x| x != p);
            count[hi] -= 1;
            count[lo] += 1;
        }
    }
}

/// Partition indexes grouped by topic, topics in id order (a counting sort, no hashing).
fn by_topic(st: &State) -> Vec<Vec<u32>> {
    let mut groups: Vec<Vec<u32>> = vec![Vec::new(); st.snap.topics.len()];
    for (i, p) in st.snap.partitions.iter().enumerate() {
        if let Some(g) = groups.get_mut(p.topic.0 as usize) {
            g.push(i as u32);
        }
    }
    groups
}

/// The next leadership transfer: (from rack, to rack, partition, slot of the new leader).
/// Tries the busiest rack against the quietest live rack first, then other pairs that still
/// differ by two or more.
fn next_transfer(
    st: &State,
    led: &[Vec<u32>],
    count: &[u32],
    live: &[bool],
) -> Option<(usize, usize, u32, usize)> {
    let mut his: Vec<usize> = (0..count.len()).collect();
    his.sort_by_key(|&r| (std::cmp::Reverse(count[r]), r));
    let mut los: Vec<usize> = (0..count.len()).filter(|&r| live[r]).collect();
    los.sort_by_key(|&r| (count[r], r));
    for &hi in &his {
        for &lo in &los {
            if count[hi] < count[lo] + 2 {
                break;
            }
            if let Some((p, k)) = find_in(st, &led[hi], lo) {
                return Some((hi, lo, p, k));
            }
        }
    }
    None
}

/// A partition among `parts` with an in-sync replica in rack `lo` that can lead: the first one
/// whose preferred replica qualifies, else the first with any qualifying replica.
fn find_in(st: &State, parts: &[u32], lo: usize) -> Option<(u32, usize)> {
    let mut fallback = None;
    for &p in parts {
        if !st.movable(p) {
            continue;
        }
        let out = st.leader_out(p);
        for (k, &x) in st.replicas(p).iter().enumerate() {
            let xu = x as usize;
            let fits = st.rack[xu] == lo as u32
                && st.accepts[xu]
                && st.slot_in_sync(p, k)
                && st.load[xu].net_out.saturating_add(out) <= st.lim_out[xu];
            if !fits {
                continue;
            }
            if k == 0 {
                return Some((p, 0));
            }
            fallback = fallback.or(Some((p, k)));
        }
    }
    fallback
}
