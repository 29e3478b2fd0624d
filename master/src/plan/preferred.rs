//! PreferredLeaders: elect the preferred leader (the first replica) of every partition whose
//! preferred leader is alive, in sync and not leading. Elections only: no reorder, no move.
//!
//! A partition is skipped when it is frozen (reassigning or in flight, rule 2), already touched
//! by this plan, or offline (no leader: the controller elects one itself). An election that
//! would put the preferred leader over its net-out limit is skipped with a plan warning, so
//! the reason shows next to the plan instead of the finding staying silent.

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
        if after > st.lim_out[pu] {
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
