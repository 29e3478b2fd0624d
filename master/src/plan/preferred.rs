//! PreferredLeaders: elect the preferred leader (the first replica) of every partition whose
//! preferred leader is alive, in sync and not leading. Elections only: no reorder, no move.
//!
//! A partition is skipped when it is frozen (reassigning or in flight, rule 2), already touched
//! by this plan, or offline (no leader: the controller elects one itself). An election that
//! would put the preferred leader above 90 % of its net-out limit (`balance::HEADROOM`, the
//! margin an overload's elections and relief leave and the spread keeps) is skipped with a
//! plan warning, so the reason shows next to the plan instead of the finding staying silent.
//! Up to 100 % it looped: relief left a hot broker at 90 %, the finding cleared, and the
//! preferred election handed its leaders straight back (the detector's windowed rate moves
//! about ±4 %, so the overload fired again).

use super::balance::headroom;
use super::reason::{ElectionReason, Warning};
use super::state::{State, NONE};

/// Plans the preferred-leader elections in `st`, partitions in snapshot order.
pub(super) fn elect_preferred(st: &mut State) {
    for p in 0..st.snap.partitions.len() as u32 {
        let Some(&pref) = st.replicas(p).first() else {
            continue;
        };
        let leader = st.leader[p as usize];
        let eligible = st.frozen[p as usize].reason().is_none()
            && !st.touched[p as usize]
            && leader != NONE
            && leader != pref
            && st.accepts[pref as usize]
            && st.slot_in_sync(p, 0);
        if !eligible {
            continue;
        }
        let pu = pref as usize;
        let after = st.load[pu].net_out.saturating_add(st.leader_out(p));
        if after > headroom(st.lim_out[pu]) {
            let info = &st.snap.partitions[p as usize];
            st.plan.warnings.push(Warning::PreferredWouldOverload {
                topic: st.snap.topic_name(info.topic).to_string(),
                partition: info.partition,
                broker: st.ids[pu],
                load_bytes_per_sec: after,
                limit_bytes_per_sec: st.lim_out[pu],
            });
            continue;
        }
        let preferred = st.ids[pu];
        st.elect(p, 0, ElectionReason::Preferred { preferred });
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::{plan, Limits, Request, Warning};
    use crate::sim::Cluster;

    /// Brokers 1, 2 (az-a), 3, 4 (az-b), 5, 6 (az-c) at 200 MB/s net out each (the default
    /// capacity), broker 1 leading `u` at `led` B/s out, and `t` (preferred leader 1) led by 3
    /// at `t_out` B/s out.
    fn case(led: u64, t_out: u64) -> Cluster {
        let mut c = Cluster::new();
        for (id, rack) in [(1, "az-a"), (2, "az-a"), (3, "az-b")] {
            c.add_broker(id, rack);
        }
        for (id, rack) in [(4, "az-b"), (5, "az-c"), (6, "az-c")] {
            c.add_broker(id, rack);
        }
        let u = c.add_partition("u", 1, &[1, 4, 6], 1_000);
        c.set_rates(u, 0, led);
        let t = c.add_partition("t", 3, &[1, 3, 5], 1_000);
        c.set_rates(t, 0, t_out);
        c
    }

    /// The loop this prevents: an overload's elections (or relief) leave a hot broker under
    /// 90 % of its net-out limit (`balance::HEADROOM`), and the spread keeps that margin; a
    /// preferred-leader election that took it back up to 100 % would hand back the leadership
    /// the overload took off (the detector's windowed rate lags and moves ±4 %, so it fires
    /// again). Broker 1 at 170 MB/s of 200 (relieved, 85 %) must not take back a 20 MB/s
    /// leader: 190 MB/s is under its limit but over 180 MB/s.
    #[test]
    fn preferred_never_elects_above_the_headroom_of_the_net_out_limit() {
        let c = case(170_000_000, 20_000_000);
        let p = plan(&c.snapshot, &Limits::default(), &Request::PreferredLeaders);
        assert!(p.elections.is_empty(), "{p}");
        assert_eq!(
            p.warnings,
            vec![Warning::PreferredWouldOverload {
                topic: "t".into(),
                partition: 0,
                broker: 1,
                load_bytes_per_sec: 190_000_000,
                limit_bytes_per_sec: 200_000_000,
            }]
        );
        let text = p.warnings[0].to_string();
        assert!(text.contains("90 %"), "{text}");
    }

    /// Up to exactly 90 % of the limit the election goes ahead.
    #[test]
    fn preferred_elects_up_to_the_headroom() {
        let c = case(160_000_000, 20_000_000);
        let p = plan(&c.snapshot, &Limits::default(), &Request::PreferredLeaders);
        assert_eq!(p.elections.len(), 1, "{p}");
        assert_eq!(p.elections[0].new_leader, 1);
        assert!(p.warnings.is_empty(), "{p}");
    }
}
