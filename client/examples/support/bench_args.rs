//! `az_bench`'s command line.

use anyhow::Context;

/// What to run; see the flags in `az_bench.rs`'s documentation.
pub struct Args {
    pub runs: usize,
    pub warmup: usize,
    pub azs: usize,
    pub records: usize,
    pub size: usize,
    pub rate: usize,
    pub paced_secs: u64,
    /// Start no new pair after this many minutes (0: no limit).
    pub minutes: u64,
    /// Build the routers in the default mode too, unused (a diagnostic).
    pub routers_in_both: bool,
    /// The AZ-aware side uses the same partitioner with every partition counted local (a
    /// diagnostic: the partitioner's rotation over 6 brokers instead of 2).
    pub sticky_everywhere: bool,
    /// The AZ-aware side is replaced by librdkafka's default partitioner on a topic per AZ whose
    /// partitions are all led in that AZ (a diagnostic: the same placement with no kmedic code
    /// and no partition set by the application).
    pub local_topics: bool,
    /// `max.in.flight.requests.per.connection` for both modes (0: librdkafka's default).
    pub max_in_flight: usize,
    /// A new producer for the paced phase (before session G: the first second's start-up
    /// latency was then part of p99).
    pub fresh_paced: bool,
}

/// Parses `std::env::args()`.
pub fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        runs: 5,
        warmup: 1,
        azs: 3,
        records: 50_000,
        size: 1024,
        rate: 1_000,
        paced_secs: 10,
        minutes: 0,
        routers_in_both: false,
        sticky_everywhere: false,
        local_topics: false,
        max_in_flight: 0,
        fresh_paced: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let n: usize = value.parse().with_context(|| format!("{flag} {value}"))?;
        match flag.as_str() {
            "--runs" => a.runs = n,
            "--warmup" => a.warmup = n,
            "--azs" => a.azs = n,
            "--records" => a.records = n,
            "--size" => a.size = n,
            "--rate" => a.rate = n,
            "--paced-secs" => a.paced_secs = n as u64,
            "--minutes" => a.minutes = n as u64,
            "--routers-in-both" => a.routers_in_both = n != 0,
            "--sticky-everywhere" => a.sticky_everywhere = n != 0,
            "--local-topics" => a.local_topics = n != 0,
            "--max-in-flight" => a.max_in_flight = n,
            "--fresh-paced" => a.fresh_paced = n != 0,
            _ => anyhow::bail!(
                "unknown flag {flag}: use --runs, --warmup, --azs, --records, --size, --rate, --paced-secs, --minutes, --routers-in-both, --sticky-everywhere, --local-topics, --max-in-flight, --fresh-paced"
            ),
        }
    }
    anyhow::ensure!(
        (1..=3).contains(&a.azs),
        "--azs {}: use 1 to 3 (the testbed has three racks)",
        a.azs
    );
    anyhow::ensure!(
        a.records >= a.azs && a.rate >= a.azs,
        "--records and --rate must be at least --azs"
    );
    anyhow::ensure!(
        !(a.sticky_everywhere && a.local_topics),
        "--sticky-everywhere and --local-topics replace the AZ-aware side each: use one"
    );
    Ok(a)
}
