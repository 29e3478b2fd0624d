//! The scale curve (issue 10 item 3): heal, balance and spread-leaders time and peak memory of
//! our planner from 50 to 2,000 brokers and 10k to 10M replicas, 3 racks even or 4/3/2, heavy
//! traffic skew (see [`child`]). Each case runs in its own child process (`kmedic-bench case
//! ...`), so its peak RSS is its own.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use kmedic_master::plan::{plan, Limits, Request};
use kmedic_master::sim::{bytes_lower_bound, generate, health, rack_name, Cluster, Spec};
use serde::{Deserialize, Serialize};

use crate::bound::{goal_lower_bound, rack_aware_lower_bound};

/// The balance target of the scale curve: the planner bench's 1.05 (the default 1.10 leaves
/// these clusters nearly untouched).
pub const TARGET: f64 = 1.05;

/// One case's figures, printed by the child as one JSON line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Case {
    /// Brokers.
    pub brokers: usize,
    /// Replicas.
    pub replicas: usize,
    /// Racks sized 4/3/2 instead of even.
    pub uneven: bool,
    /// Generating the cluster, ms.
    pub generate_ms: f64,
    /// RSS with the cluster generated, before planning, MiB.
    pub rss_loaded_mib: f64,
    /// Median heal time (one dead broker), ms.
    pub heal_ms: f64,
    /// Median full-balance time ([`TARGET`], no per-broker move cap), ms.
    pub balance_ms: f64,
    /// Median spread-leaders time, ms.
    pub spread_ms: f64,
    /// Peak RSS of the whole child process (VmHWM), MiB.
    pub peak_rss_mib: f64,
    /// Net in max/mean before and after the balance.
    pub balance_net_in: (f64, f64),
    /// Net out max/mean before and after the balance.
    pub balance_net_out: (f64, f64),
    /// Rack violations after the balance.
    pub balance_rack_violations: usize,
    /// Net in after the balance over the best mean the rack rule allows (differs from the
    /// cluster mean only with uneven racks, where rack totals are pinned).
    pub balance_net_in_achievable: f64,
    /// The balance's bytes over the lower bound (`sim::bytes_lower_bound`).
    pub balance_over_bound: Option<f64>,
    /// The balance's bytes over the rack-aware bound (`bound::rack_aware_lower_bound`).
    pub balance_over_rack_bound: Option<f64>,
    /// The balance's bytes over the net-in-and-disk bound (`bound::goal_lower_bound`).
    pub balance_over_goal_bound: Option<f64>,
    /// Disk max/mean after the balance.
    pub balance_disk_after: f64,
    /// Replicas the heal could not place.
    pub heal_unplaceable: usize,
}

/// `spec`'s cluster with racks resized 4/3/2 (of 9): broker `k`-th of old rack `r` maps, per
/// partition, onto a broker of new rack `r`, so each partition keeps one replica per rack and
/// the smaller racks' brokers carry more each (as they do in such clusters).
fn uneven(spec: &Spec) -> Cluster {
    let mut c = generate(spec);
    let n = spec.brokers;
    let sizes = [n * 4 / 9, n * 3 / 9, n - n * 4 / 9 - n * 3 / 9];
    let mut by_rack: Vec<Vec<i32>> = vec![Vec::new(); 3];
    let mut id = 1;
    for (r, &size) in sizes.iter().enumerate() {
        for _ in 0..size {
            by_rack[r].push(id);
            c.snapshot.brokers[id as usize - 1].rack = rack_name(r);
            id += 1;
        }
    }
    for (pi, p) in c.snapshot.partitions.iter_mut().enumerate() {
        let map = |old: i32| {
            let (r, k) = ((old - 1) as usize % 3, (old - 1) as usize / 3);
            let rack = &by_rack[r];
            rack[(k * 31 + pi) % rack.len()]
        };
        p.replicas.iter_mut().for_each(|b| *b = map(*b));
        p.isr.iter_mut().for_each(|b| *b = map(*b));
        p.leader = p.leader.map(map);
    }
    c
}

fn status_kib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// The child: generates one case, plans it and prints its [`Case`] as JSON.
pub fn child(brokers: usize, replicas: usize, uneven_racks: bool, runs: usize) -> Result<()> {
    let t = Instant::now();
    // The planner bench's heavy skew (Zipf 1.0 over topics, 0.6 within), so balance has work:
    // Spec::new's default skew leaves a cluster already within the target.
    let mut spec = Spec::new(brokers, replicas, 5);
    spec.topic_skew = 1.0;
    spec.partition_skew = 0.6;
    spec.non_preferred_leaders = 0.10;
    let mut c = if uneven_racks {
        uneven(&spec)
    } else {
        generate(&spec)
    };
    let generate_ms = t.elapsed().as_secs_f64() * 1e3;
    let rss_loaded_mib = status_kib("VmRSS:") / 1024.0;
    let limits = Limits {
        target_ratio: TARGET,
        max_moves_per_broker: u32::MAX,
        ..Limits::default()
    };
    let spread_ms = median_ms(runs, || {
        plan(&c.snapshot, &Limits::default(), &Request::SpreadLeaders);
    });
    let mut last = None;
    let balance_ms = median_ms(runs, || {
        last = Some(plan(&c.snapshot, &limits, &Request::Balance));
    });
    let h0 = health(&c.snapshot);
    let bound = bytes_lower_bound(&c.snapshot, limits.target_ratio);
    let rack_bound = rack_aware_lower_bound(&c.snapshot, limits.target_ratio);
    let goal_bound = goal_lower_bound(&c.snapshot, limits.target_ratio);
    let (mut over, mut over_rack, mut over_goal) = (None, None, None);
    if let Some(p) = last {
        let moved = p.totals.bytes_moved as f64;
        over = (bound > 0).then(|| moved / bound as f64);
        over_rack = (rack_bound > 0).then(|| moved / rack_bound as f64);
        over_goal = (goal_bound > 0).then(|| moved / goal_bound as f64);
        // Applied in place (a clone would double the memory at 10M replicas): the heal below
        // then runs on the balanced cluster.
        c.apply(&p);
    }
    let h = health(&c.snapshot);
    c.kill(1);
    let mut unplaceable = 0;
    let heal_ms = median_ms(runs, || {
        unplaceable = plan(
            &c.snapshot,
            &Limits::default(),
            &Request::Heal { dead: vec![1] },
        )
        .unplaceable
        .len();
    });
    let case = Case {
        brokers,
        replicas: c.snapshot.replica_count(),
        uneven: uneven_racks,
        generate_ms,
        rss_loaded_mib,
        heal_ms,
        balance_ms,
        spread_ms,
        peak_rss_mib: status_kib("VmHWM:") / 1024.0,
        balance_net_in: (h0.net_in_max_over_mean, h.net_in_max_over_mean),
        balance_net_out: (h0.net_out_max_over_mean, h.net_out_max_over_mean),
        balance_rack_violations: h.rack_violations,
        balance_net_in_achievable: h.net_in_max_over_achievable,
        balance_over_bound: over,
        balance_over_rack_bound: over_rack,
        balance_over_goal_bound: over_goal,
        balance_disk_after: h.disk_max_over_mean,
        heal_unplaceable: unplaceable,
    };
    println!("{}", serde_json::to_string(&case)?);
    Ok(())
}

/// Runs each `(brokers, replicas, uneven)` case in a child process.
pub fn run(cases: &[(usize, usize, bool)], runs: usize) -> Result<Vec<Case>> {
    let exe = std::env::current_exe().context("finding the harness binary")?;
    let mut out = Vec::new();
    for &(brokers, replicas, uneven) in cases {
        eprintln!("scale: {brokers} brokers, {replicas} replicas, uneven racks {uneven}");
        let mut cmd = Command::new(&exe);
        cmd.args(["case", "--brokers", &brokers.to_string()])
            .args(["--replicas", &replicas.to_string()])
            .args(["--runs", &runs.to_string()]);
        if uneven {
            cmd.arg("--uneven");
        }
        let res = cmd.output().context("running a case child")?;
        if !res.status.success() {
            bail!(
                "case {brokers}/{replicas} failed: {}",
                String::from_utf8_lossy(&res.stderr)
            );
        }
        let line = String::from_utf8_lossy(&res.stdout);
        out.push(serde_json::from_str(line.trim()).context("reading a case's JSON")?);
    }
    Ok(out)
}

/// The markdown table; `targets` marks the three targets met or missed.
pub fn table(cases: &[Case]) -> String {
    let mut s = String::from(
        "| brokers | replicas | racks | generate ms | heal ms | balance ms | spread ms | \
         RSS loaded MiB | peak RSS MiB | net in max/mean before → after balance | after / achievable | balance × bound | × rack bound | × goal bound | disk max/mean after | heal unplaceable |\n\
         |---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in cases {
        s.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.3} → {:.3} | {:.3} | {} | {} | {} | {:.3} | {} |\n",
            c.brokers,
            c.replicas,
            if c.uneven { "4/3/2" } else { "even" },
            c.generate_ms,
            c.heal_ms,
            c.balance_ms,
            c.spread_ms,
            c.rss_loaded_mib,
            c.peak_rss_mib,
            c.balance_net_in.0,
            c.balance_net_in.1,
            c.balance_net_in_achievable,
            match c.balance_over_bound {
                // The bound is for reaching the target; a plan that stops short may copy less.
                Some(x) if c.balance_net_in.1 <= TARGET + 0.001 => format!("{x:.2}"),
                Some(x) => format!("({x:.2}, target not reached)"),
                None => String::new(),
            },
            match c.balance_over_rack_bound {
                Some(x) if c.balance_net_in_achievable <= TARGET + 0.001 => format!("{x:.2}"),
                Some(x) => format!("({x:.2}, target not reached)"),
                None => String::new(),
            },
            match c.balance_over_goal_bound {
                Some(x) if c.balance_net_in_achievable <= TARGET + 0.001 => format!("{x:.2}"),
                Some(x) => format!("({x:.2}, target not reached)"),
                None => String::new(),
            },
            c.balance_disk_after,
            c.heal_unplaceable,
        ));
    }
    s
}

/// Growth exponent of `y` against replicas between the smallest and largest even case:
/// `log(y1/y0) / log(r1/r0)` (1.0 is linear).
pub fn growth(cases: &[Case], y: fn(&Case) -> f64) -> Option<f64> {
    let even: Vec<&Case> = cases.iter().filter(|c| !c.uneven).collect();
    let (a, b) = (even.first()?, even.last()?);
    (b.replicas > a.replicas && y(a) > 0.0 && y(b) > 0.0)
        .then(|| (y(b) / y(a)).ln() / (b.replicas as f64 / a.replicas as f64).ln())
}
