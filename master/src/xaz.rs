//! The cross-AZ traffic report (issue 11 item 2): bytes per second that cross availability
//! zones (racks), per cluster, from replica placement and the agents' per-partition rates. Pure:
//! a planner [`Snapshot`] and the cluster's [`ClientAzConfig`] go in, a [`Report`] comes out.
//! Served at `GET /api/clusters/{c}/cross-az`, as `kmedic_cross_az_bytes_per_second` gauges and
//! by `kmedic-master cross-az`.
//!
//! # What is counted, and the assumptions
//!
//! A broker's AZ is its `broker.rack`. For partition `p` with leader `L`, bytes appended per
//! second `in(p)` and consumer reads per second `out(p)` (the snapshot's consumer part, without
//! replication):
//!
//! - **Replication** (from placement and measured rates): every follower fetches `in(p)` from
//!   the leader; a follower in another rack than `L` makes `in(p)` cross, from `L`'s rack to
//!   its own. Followers out of sync count too: they fetch as well.
//! - **Produce** (an estimate): producers write to `L`. With `producer_shares` configured
//!   (share `s(z)` of produced bytes sent from AZ `z`), `in(p) x s(z)` crosses for every
//!   `z != rack(L)`. Unknown (empty map): producers are assumed spread uniformly over the
//!   cluster's racks, so `in(p) x (1 - 1/racks)` crosses. The default partitioner spreads a
//!   producer's records over all partitions, which is what this models; an AZ-aware producer
//!   (`kmedic-client`) keeps its unkeyed records local and crosses less than this.
//! - **Consume** (an estimate): consumers read `out(p)` from `L`, the same way with
//!   `consumer_shares`. With `consumers_fetch_from_follower` (consumers set `client.rack` and
//!   brokers use `RackAwareReplicaSelector`, KIP-392), consumers in an AZ holding a replica of
//!   `p` read locally, and only the shares of AZs without one cross.
//!
//! Brokers without a rack, and partitions without a leader, are left out of the cross-AZ
//! figures; their bytes are reported as `unknown_rack_bytes_per_sec`. Shares are normalised
//! to sum to 1. The report states the basis of each figure (measured or which assumption).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plan::Snapshot;

/// Where a cluster's clients run, for the produce and consume estimates (`[clusters.cross_az]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAzConfig {
    /// Share of produced bytes sent from each AZ, e.g. `{ "az-a" = 0.5, "az-b" = 0.5 }`.
    /// Empty (the default): unknown, assumed uniform over the cluster's racks.
    #[serde(default)]
    pub producer_shares: BTreeMap<String, f64>,
    /// Share of consumed bytes read from each AZ; empty: unknown, assumed uniform.
    #[serde(default)]
    pub consumer_shares: BTreeMap<String, f64>,
    /// Consumers set `client.rack` and brokers use `RackAwareReplicaSelector` (KIP-392), so a
    /// consumer reads from a replica in its own AZ when the partition has one. Default off.
    #[serde(default)]
    pub consumers_fetch_from_follower: bool,
}

impl ClientAzConfig {
    /// Checks the shares: finite, not negative, not all zero. The error names the key and fix.
    pub fn validate(&self) -> Result<(), String> {
        for (key, shares) in [
            ("cross_az.producer_shares", &self.producer_shares),
            ("cross_az.consumer_shares", &self.consumer_shares),
        ] {
            if let Some((az, s)) = shares.iter().find(|(_, s)| !s.is_finite() || **s < 0.0) {
                return Err(format!(
                    "{key}: share {s} for {az:?} must be a number >= 0 (shares are relative; \
                     they are normalised to sum to 1)"
                ));
            }
            if !shares.is_empty() && shares.values().sum::<f64>() <= 0.0 {
                return Err(format!(
                    "{key}: shares sum to 0; give at least one AZ a share > 0, or remove the \
                     map for 'unknown' (uniform over racks)"
                ));
            }
        }
        Ok(())
    }
}

/// One kind of traffic: its total and the part crossing AZs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// All bytes per second of this kind (with a known rack).
    pub total_bytes_per_sec: f64,
    /// The part crossing AZs.
    pub cross_az_bytes_per_sec: f64,
    /// `cross / total` (0 when total is 0).
    pub cross_az_share: f64,
    /// How the figure is made: "measured", "configured client shares" or "unknown client AZs:
    /// uniform over racks".
    pub basis: String,
}

/// Bytes per second from one AZ to another, of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    /// "replication", "produce" or "consume".
    pub kind: String,
    /// Sending AZ (the leader's for replication and consume, the client's for produce).
    pub from: String,
    /// Receiving AZ.
    pub to: String,
    /// Bytes per second.
    pub bytes_per_sec: f64,
}

/// The cross-AZ report of one cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The cluster's racks (named racks of its brokers).
    pub racks: Vec<String>,
    /// Leaders per rack over all partitions.
    pub leaders_per_rack: BTreeMap<String, u64>,
    /// Follower fetches crossing AZs (measured rates x placement).
    pub replication: Traffic,
    /// Producer writes crossing AZs (estimate).
    pub produce: Traffic,
    /// Consumer reads crossing AZs (estimate).
    pub consume: Traffic,
    /// Sum of the three cross-AZ figures.
    pub cross_az_bytes_per_sec: f64,
    /// Cross-AZ flows by kind and AZ pair, largest first.
    pub flows: Vec<Flow>,
    /// Bytes per second left out because a broker has no rack or a partition no leader.
    pub unknown_rack_bytes_per_sec: f64,
    /// The assumptions behind the estimates, in words.
    pub assumptions: Vec<String>,
}

/// Client shares normalised over AZ names, and the basis sentence.
fn shares(configured: &BTreeMap<String, f64>, racks: &[String]) -> (Vec<(String, f64)>, String) {
    let sum: f64 = configured.values().sum();
    if configured.is_empty() || sum <= 0.0 || !sum.is_finite() {
        let n = racks.len().max(1) as f64;
        let v = racks.iter().map(|r| (r.clone(), 1.0 / n)).collect();
        return (v, "unknown client AZs: uniform over racks".into());
    }
    let v = configured
        .iter()
        .map(|(az, s)| (az.clone(), s / sum))
        .collect();
    (v, "configured client shares".into())
}

/// Computes the report of `snap` with the clients of `clients`.
pub fn report(snap: &Snapshot, clients: &ClientAzConfig) -> Report {
    let rack_of: BTreeMap<i32, &str> = snap
        .brokers
        .iter()
        .filter(|b| !b.rack.is_empty())
        .map(|b| (b.id, b.rack.as_str()))
        .collect();
    let mut racks: Vec<String> = rack_of.values().map(|r| r.to_string()).collect();
    racks.sort();
    racks.dedup();
    let (prod, prod_basis) = shares(&clients.producer_shares, &racks);
    let (cons, cons_basis) = shares(&clients.consumer_shares, &racks);
    let mut r = Report {
        racks: racks.clone(),
        ..Report::default()
    };
    r.replication.basis = "measured".into();
    r.produce.basis = prod_basis;
    r.consume.basis = cons_basis;
    let mut flows: BTreeMap<(&'static str, String, String), f64> = BTreeMap::new();
    let mut add = |kind: &'static str, from: &str, to: &str, b: f64| {
        if from != to && b > 0.0 {
            *flows
                .entry((kind, from.to_string(), to.to_string()))
                .or_default() += b;
        }
    };
    for p in &snap.partitions {
        let (bin, bout) = (p.bytes_in_per_sec as f64, p.bytes_out_per_sec as f64);
        let Some(lr) = p.leader.and_then(|l| rack_of.get(&l).copied()) else {
            let followers = p.replicas.len().saturating_sub(1) as f64;
            r.unknown_rack_bytes_per_sec += bin * (1.0 + followers) + bout;
            continue;
        };
        *r.leaders_per_rack.entry(lr.to_string()).or_default() += 1;
        for f in p.replicas.iter().filter(|&&f| Some(f) != p.leader) {
            match rack_of.get(f) {
                Some(fr) => {
                    r.replication.total_bytes_per_sec += bin;
                    if *fr != lr {
                        r.replication.cross_az_bytes_per_sec += bin;
                        add("replication", lr, fr, bin);
                    }
                }
                None => r.unknown_rack_bytes_per_sec += bin,
            }
        }
        r.produce.total_bytes_per_sec += bin;
        for (az, s) in &prod {
            if az != lr {
                r.produce.cross_az_bytes_per_sec += bin * s;
                add("produce", az, lr, bin * s);
            }
        }
        r.consume.total_bytes_per_sec += bout;
        for (az, s) in &cons {
            let local = az == lr
                || (clients.consumers_fetch_from_follower
                    && p.replicas
                        .iter()
                        .any(|x| rack_of.get(x) == Some(&az.as_str())));
            if !local {
                r.consume.cross_az_bytes_per_sec += bout * s;
                add("consume", lr, az, bout * s);
            }
        }
    }
    for t in [&mut r.replication, &mut r.produce, &mut r.consume] {
        t.cross_az_share = if t.total_bytes_per_sec > 0.0 {
            t.cross_az_bytes_per_sec / t.total_bytes_per_sec
        } else {
            0.0
        };
    }
    r.cross_az_bytes_per_sec = r.replication.cross_az_bytes_per_sec
        + r.produce.cross_az_bytes_per_sec
        + r.consume.cross_az_bytes_per_sec;
    r.flows = flows
        .into_iter()
        .map(|((kind, from, to), bytes_per_sec)| Flow {
            kind: kind.to_string(),
            from,
            to,
            bytes_per_sec,
        })
        .collect();
    r.flows
        .sort_by(|a, b| b.bytes_per_sec.total_cmp(&a.bytes_per_sec));
    r.assumptions = assumptions(clients, &racks);
    r
}

fn assumptions(c: &ClientAzConfig, racks: &[String]) -> Vec<String> {
    let who = |m: &BTreeMap<String, f64>, what: &str| {
        if m.is_empty() {
            format!(
                "{what} AZs unknown: assumed uniform over the {} racks {}",
                racks.len(),
                crate::text::list(racks)
            )
        } else {
            format!(
                "{what} AZ shares as configured (normalised): {}",
                crate::text::list(m.iter().map(|(az, share)| format!("{az}={share}")))
            )
        }
    };
    vec![
        "a broker's AZ is its broker.rack; replication = each follower fetches the leader's \
         bytes in (agents' measured rates), crossing when its rack differs from the leader's"
            .into(),
        who(&c.producer_shares, "producer"),
        "producers write each partition's bytes from the AZs in those shares (the default \
         partitioner); an AZ-aware producer keeps unkeyed records local and crosses less"
            .into(),
        who(&c.consumer_shares, "consumer"),
        if c.consumers_fetch_from_follower {
            "consumers fetch from a replica in their own AZ when the partition has one \
             (client.rack + RackAwareReplicaSelector, KIP-392)"
                .into()
        } else {
            "consumers read from the leader (no client.rack / RackAwareReplicaSelector)".into()
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Cluster;

    fn three_racks() -> Cluster {
        let mut c = Cluster::new();
        for (id, rack) in [(1, "az-a"), (2, "az-b"), (3, "az-c")] {
            c.add_broker(id, rack);
        }
        c
    }

    /// RF 3 over 3 racks: both followers cross, so replication crosses 2 x in; unknown
    /// clients: 2/3 of produce and consume cross.
    #[test]
    fn rf3_over_three_racks_with_unknown_clients() {
        let mut c = three_racks();
        let i = c.add_partition("t", 1, &[1, 2, 3], 0);
        c.set_rates(i, 3_000_000, 6_000_000);
        let r = report(&c.snapshot, &ClientAzConfig::default());
        assert_eq!(r.replication.total_bytes_per_sec, 6e6);
        assert_eq!(r.replication.cross_az_bytes_per_sec, 6e6);
        assert!((r.produce.cross_az_bytes_per_sec - 2e6).abs() < 1.0);
        assert!((r.consume.cross_az_bytes_per_sec - 4e6).abs() < 1.0);
        assert!((r.cross_az_bytes_per_sec - 12e6).abs() < 1.0);
        assert_eq!(r.leaders_per_rack["az-a"], 1);
        assert!(r.produce.basis.contains("uniform"), "{:?}", r.produce);
        assert!(
            r.assumptions
                .iter()
                .any(|a| a.ends_with("over the 3 racks az-a, az-b, az-c")),
            "{:?}",
            r.assumptions
        );
        let repl: Vec<_> = r.flows.iter().filter(|f| f.kind == "replication").collect();
        assert_eq!(repl.len(), 2);
        assert!(repl.iter().all(|f| f.from == "az-a"));
    }

    /// A follower in the leader's rack does not cross; clients all in the leader's AZ cross
    /// nothing; a consumer AZ with a follower reads locally with KIP-392 only.
    #[test]
    fn same_rack_followers_local_clients_and_follower_fetching() {
        let mut c = three_racks();
        c.add_broker(4, "az-a");
        let i = c.add_partition("t", 1, &[1, 4, 2], 0);
        c.set_rates(i, 1_000_000, 2_000_000);
        let mut clients = ClientAzConfig {
            producer_shares: [("az-a".to_string(), 2.0)].into(),
            consumer_shares: [("az-b".to_string(), 1.0), ("az-c".to_string(), 1.0)].into(),
            consumers_fetch_from_follower: false,
        };
        let r = report(&c.snapshot, &clients);
        assert!(
            r.assumptions
                .iter()
                .any(|a| a.ends_with("(normalised): az-b=1, az-c=1")),
            "{:?}",
            r.assumptions
        );
        assert_eq!(r.replication.cross_az_bytes_per_sec, 1e6);
        assert_eq!(r.produce.cross_az_bytes_per_sec, 0.0);
        assert_eq!(r.consume.cross_az_bytes_per_sec, 2e6);
        clients.consumers_fetch_from_follower = true;
        let r = report(&c.snapshot, &clients);
        // az-b has a follower (broker 2), az-c has none: half the reads still cross.
        assert_eq!(r.consume.cross_az_bytes_per_sec, 1e6);
        assert_eq!(r.consume.cross_az_share, 0.5);
    }

    /// A broker without a rack is left out and its bytes reported as unknown.
    #[test]
    fn no_rack_is_unknown_not_crossing() {
        let mut c = three_racks();
        c.add_broker(9, "");
        let i = c.add_partition("t", 1, &[1, 9], 0);
        c.set_rates(i, 1_000, 0);
        let r = report(&c.snapshot, &ClientAzConfig::default());
        assert_eq!(r.replication.cross_az_bytes_per_sec, 0.0);
        assert_eq!(r.unknown_rack_bytes_per_sec, 1_000.0);
    }

    #[test]
    fn bad_shares_name_the_key() {
        let bad = ClientAzConfig {
            producer_shares: [("az-a".to_string(), -1.0)].into(),
            ..ClientAzConfig::default()
        };
        let e = bad.validate().unwrap_err();
        assert!(e.contains("cross_az.producer_shares"), "{e}");
        let zero = ClientAzConfig {
            consumer_shares: [("az-a".to_string(), 0.0)].into(),
            ..ClientAzConfig::default()
        };
        assert!(zero.validate().unwrap_err().contains("consumer_shares"));
        assert!(ClientAzConfig::default().validate().is_ok());
    }
}
