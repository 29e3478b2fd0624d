//! Many-for-one exchanges: replica counts move between two brokers of one rack while bytes
//! stay put.
//!
//! On Cruise Control's skewed cluster the brokers of a rack with few replicas are the ones
//! with few big replicas: after network and disk balance they sit at their disk (or net-in)
//! limit, so no single move can give them a replica, and counts stopped at max/mean 1.34.
//! An exchange sends the `k` smallest followers of a broker `h` above its band to a rack peer
//! `l` with room in its band, and one follower `X` of `l` back to `h`: counts move by `k - 1`,
//! while disk and net in move by the difference only. `X` is the cheapest to copy (a replica
//! this plan placed on `l` copies nothing more,
//! [`planned`](crate::plan::swap::planned)), then the smallest, that keeps both brokers
//! within their disk and net-in limits (both receive a replica). When no `X` fits, `k` halves.
//! A broker still below its band afterwards is the `l` of exchanges with its fullest rack
//! peers (it sits at its net-in limit with few replicas, each with much traffic). Followers
//! only, so no leadership and no net out moves; inside one rack, so no partition's racks
//! change. Each exchange narrows the gap between the two brokers without crossing it (`h` at
//! or above its band's top, or at least `l`'s count and its own band's bottom, `l` at most
//! its band's top or bottom), so the step ends.

use std::cmp::Reverse;

use super::{move_one, peers, Band};
use crate::plan::state::State;
use crate::plan::swap::{copy_cost, on, rack_unique, swappable};

/// Most small replicas one exchange sends (bounds the scan per exchange).
const MAX_BATCH: usize = 256;

/// Rack peers tried per broker above its band, fewest replicas first.
const MAX_RECEIVERS: usize = 16;

/// One replica: (bytes moving it copies, size, partition).
type Cand = (u64, u64, u32);

fn count(st: &State, b: u32) -> u32 {
    st.hosted[b as usize].len() as u32
}

/// Exchanges replicas off brokers still above their band, then onto brokers still below it
/// (per-broker `bands`).
pub(super) fn exchanges(st: &mut State, bands: &[Band]) {
    let mut over: Vec<u32> = (0..st.ids.len() as u32)
        .filter(|&b| {
            st.accepts[b as usize]
                && st.disk_known[b as usize]
                && count(st, b) > bands[b as usize].high
        })
        .collect();
    over.sort_unstable_by_key(|&b| (Reverse(count(st, b)), b));
    for h in over {
        let high = bands[h as usize].high;
        let mut receivers: Vec<u32> = peers(st, h)
            .into_iter()
            .filter(|&l| count(st, l) < bands[l as usize].high)
            .collect();
        receivers.sort_unstable_by_key(|&l| (count(st, l), l));
        for l in receivers.into_iter().take(MAX_RECEIVERS) {
            loop {
                let excess = count(st, h).saturating_sub(high);
                let room = bands[l as usize].high.saturating_sub(count(st, l));
                let d = excess.min(room) as usize;
                if d == 0 || !exchange(st, h, l, d, bands) {
                    break;
                }
            }
            if count(st, h) <= high {
                break;
            }
        }
    }
    // Below the band: the same exchange from the fullest rack peers. The brokers left under it
    // on Cruise Control's skewed cluster (776 to 853 replicas, band from 885) sat at their
    // net-in limit with disk to spare: few replicas, each with much traffic.
    let mut under: Vec<u32> = (0..st.ids.len() as u32)
        .filter(|&l| {
            st.accepts[l as usize]
                && st.disk_known[l as usize]
                && count(st, l) < bands[l as usize].low
        })
        .collect();
    under.sort_unstable_by_key(|&l| (count(st, l), l));
    for l in under {
        let low = bands[l as usize].low;
        let mut donors: Vec<u32> = peers(st, l)
            .into_iter()
            .filter(|&h| count(st, h) > bands[h as usize].low.max(count(st, l) + 1))
            .collect();
        donors.sort_unstable_by_key(|&h| (Reverse(count(st, h)), h));
        for h in donors.into_iter().take(MAX_RECEIVERS) {
            loop {
                // `l` up to its band, `h` not below its own nor below `l`.
                let (ch, cl) = (count(st, h), count(st, l));
                let d = low
                    .saturating_sub(cl)
                    .min(ch.saturating_sub(cl) / 2)
                    .min(ch.saturating_sub(bands[h as usize].low)) as usize;
                if d == 0 || !exchange(st, h, l, d, bands) {
                    break;
                }
            }
            if count(st, l) >= low {
                break;
            }
        }
    }
}

/// Followers of `from` that may go to `to` (same rack): movable or placed by this plan, not
/// on `to` now or in the snapshot, the only replica of their partition in the rack.
fn followers(st: &State, from: u32, to: u32) -> Vec<Cand> {
    st.hosted[from as usize]
        .iter()
        .copied()
        .filter(|&p| {
            st.leader[p as usize] != from
                && swappable(st, p, from)
                && rack_unique(st, p, from)
                && !on(st, p, to)
        })
        .map(|p| {
            (
                copy_cost(st, p, from),
                st.snap.partitions[p as usize].size_bytes,
                p,
            )
        })
        .collect()
}

/// One exchange of about `want` replicas from `h` to `l`; false when none fits.
fn exchange(st: &mut State, h: u32, l: u32, want: usize, bands: &[Band]) -> bool {
    let mut ys = followers(st, h, l);
    // Smallest first: the least disk and net in to send back with `X`.
    ys.sort_unstable_by_key(|&(c, s, p)| (s, c, p));
    ys.truncate(MAX_BATCH);
    let mut xs = followers(st, l, h);
    xs.sort_unstable();
    let mut d = want.min(ys.len().saturating_sub(1));
    while d >= 1 {
        let batch = &ys[..=d];
        if let Some(x) = pick_x(st, h, l, batch, &xs) {
            tracing::debug!(
                over = st.ids[h as usize],
                with = st.ids[l as usize],
                replicas = batch.len(),
                partition = x,
                "replica counts: many-for-one exchange"
            );
            for &(_, _, q) in batch {
                move_one(st, q, h, l, bands[l as usize]);
            }
            move_one(st, x, l, h, bands[h as usize]);
            return true;
        }
        d /= 2;
    }
    false
}

/// The replica of `l` to send to `h` for `batch`: the cheapest, then smallest, that keeps both
/// brokers within their disk and net-in limits, the move caps and the byte budget.
fn pick_x(st: &State, h: u32, l: u32, batch: &[Cand], xs: &[Cand]) -> Option<u32> {
    let (hu, lu) = (h as usize, l as usize);
    let max = st.limits.max_moves_per_broker as u64;
    let k = batch.len() as u64;
    let caps = st.moves[hu].outgoing as u64 + k <= max
        && st.moves[lu].incoming as u64 + k <= max
        && (st.moves[hu].incoming as u64) < max
        && (st.moves[lu].outgoing as u64) < max;
    if !caps {
        return None;
    }
    let info = |p: u32| &st.snap.partitions[p as usize];
    let (mut cost, mut size, mut bin) = (0u64, 0u64, 0u64);
    for &(c, s, q) in batch {
        cost += c;
        size += s;
        bin += info(q).bytes_in_per_sec;
    }
    let (lh, ll) = (st.load[hu], st.load[lu]);
    xs.iter()
        .find(|&&(cx, sx, p)| {
            let xin = info(p).bytes_in_per_sec;
            // Both brokers receive a replica, so both must end within every limit (a receiver
            // over a limit before may not stay there): (load, what comes in, what goes, limit).
            let ends = [
                (ll.disk, size, sx, st.lim_disk[lu]),
                (lh.disk, sx, size, st.lim_disk[hu]),
                (ll.net_in, bin, xin, st.lim_in[lu]),
                (lh.net_in, xin, bin, st.lim_in[hu]),
            ];
            cost + cx <= st.bytes_left
                && ends
                    .iter()
                    .all(|&(now, gain, loss, limit)| (now + gain).saturating_sub(loss) <= limit)
        })
        .map(|&(_, _, p)| p)
}
