//! Loader for clusters written by Cruise Control's test generator (`RandomCluster.populate`), as
//! in `../shared/clusters/*.tsv.gz` (see its README), into a simulator [`Cluster`].
//!
//! # Format
//!
//! Tab-separated lines, gzipped or plain (detected from the gzip magic bytes); `#` lines and
//! blank lines are skipped:
//!
//! - `broker  id  rack  alive  cap_cpu  cap_disk_mb  cap_nw_in_kbps  cap_nw_out_kbps`
//! - `replica  topic  partition  position  broker  is_leader  cpu  disk_mb  nw_in_kbps  nw_out_kbps`
//!
//! # Mapping to our load model
//!
//! - kB and MB are 1,000-based: `x_kbps` becomes `x * 1,000` bytes per second, `x_mb`
//!   `x * 1,000,000` bytes (rounded to the nearest byte). CPU figures are ignored: the planner
//!   does not model CPU.
//! - The generator draws each replica's load on its own, so the followers of one partition carry
//!   figures that differ from their leader's. In Kafka every follower fetches exactly the
//!   leader's bytes in and holds the leader's log, so **the partition takes its LEADER's
//!   figures**: size from the leader's `disk_mb`, bytes in from its `nw_in_kbps` and consumer
//!   bytes out from its `nw_out_kbps` (set on leaders only; it is consumer traffic, replication
//!   excluded, as [`PartitionInfo::bytes_out_per_sec`] wants). Followers' figures are read,
//!   checked to be numbers, and dropped.
//! - Replicas are ordered by `position` (0 is the preferred leader).
//! - A broker with `alive` false is [`BrokerState::Dead`], and the partitions see it as Kafka
//!   would ([`Cluster::kill`]): it is out of every ISR, and a partition it led is led by the
//!   first other replica in assignment order (offline if none). The partition keeps the dead
//!   leader's figures: the traffic follows the partition, not the broker.
//! - Every other replica is in sync; nothing is reassigning or in flight.
//! - Racks keep the file's names (`"0"`, `"1"`, ...). Capacities are the file's, with the disk
//!   known and no separate used-bytes figure (disk load is the sum of replica sizes).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::cluster::Cluster;
use crate::plan::{BrokerInfo, BrokerState, Capacity, PartitionInfo, TopicId};

/// Why a cluster file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read (or its gzip stream is corrupt).
    #[error("cannot read cluster file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A partition's replicas do not make an assignment (no or two leaders, gaps in positions,
    /// a broker twice, a broker not declared).
    #[error("{path}: partition {topic}-{partition}: {message}")]
    Partition {
        /// The file.
        path: PathBuf,
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
        /// What is wrong.
        message: String,
    },
}

/// Loads a Cruise Control generator cluster file (gzipped or plain) into a [`Cluster`].
pub fn load(path: impl AsRef<Path>) -> Result<Cluster, Error> {
    let path = path.as_ref();
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut reader = BufReader::new(file);
    let gzipped = reader.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    if gzipped {
        let decoder = flate2::read::MultiGzDecoder::new(reader);
        parse(BufReader::new(decoder), path)
    } else {
        parse(reader, path)
    }
}

/// Parses the file's text from `reader`; `path` names it in errors.
pub fn parse(reader: impl BufRead, path: &Path) -> Result<Cluster, Error> {
    let mut p = Parser {
        path,
        cluster: Cluster::new(),
        broker_index: HashMap::new(),
        partitions: HashMap::new(),
        replicas: Vec::new(),
    };
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        p.line(n + 1, &line)?;
    }
    p.finish()
}

/// One replica line, kept until its partition is complete.
struct Replica {
    position: usize,
    broker: i32,
    leader: bool,
    disk_bytes: u64,
    in_bytes: u64,
    out_bytes: u64,
}

struct Parser<'a> {
    path: &'a Path,
    cluster: Cluster,
    /// Broker id -> index in the snapshot's brokers.
    broker_index: HashMap<i32, usize>,
    /// (topic, partition) -> index into `replicas`.
    partitions: HashMap<(TopicId, i32), usize>,
    replicas: Vec<((TopicId, i32), Vec<Replica>)>,
}

impl Parser<'_> {
    fn err(&self, line: usize, message: String) -> Error {
        Error::Line {
            path: self.path.to_owned(),
            line,
            message,
        }
    }

    fn line(&mut self, n: usize, line: &str) -> Result<(), Error> {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let want = |count: usize| {
            if fields.len() == count {
                Ok(())
            } else {
                Err(self.err(
                    n,
                    format!(
                        "a '{}' line has {count} tab-separated fields, this one has {}",
                        fields[0],
                        fields.len()
                    ),
                ))
            }
        };
        match fields[0] {
            "broker" => {
                want(8)?;
                self.broker(n, &fields)
            }
            "replica" => {
                want(10)?;
                self.replica(n, &fields)
            }
            other => Err(self.err(
                n,
                format!("unknown line kind '{other}' (expected 'broker' or 'replica')"),
            )),
        }
    }

    fn int<T: std::str::FromStr>(&self, n: usize, name: &str, s: &str) -> Result<T, Error> {
        s.parse()
            .map_err(|_| self.err(n, format!("{name} '{s}' is not an integer")))
    }

    fn bool(&self, n: usize, name: &str, s: &str) -> Result<bool, Error> {
        match s {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.err(n, format!("{name} '{s}' is neither true nor false"))),
        }
    }

    /// A non-negative finite figure times `scale`, rounded to a whole number.
    fn figure(&self, n: usize, name: &str, s: &str, scale: f64) -> Result<u64, Error> {
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Ok((x * scale).round() as u64),
            _ => Err(self.err(n, format!("{name} '{s}' is not a non-negative number"))),
        }
    }

    fn broker(&mut self, n: usize, f: &[&str]) -> Result<(), Error> {
        let id: i32 = self.int(n, "broker id", f[1])?;
        let alive = self.bool(n, "alive", f[3])?;
        self.figure(n, "cap_cpu", f[4], 1.0)?;
        let capacity = Capacity {
            disk_bytes: self.figure(n, "cap_disk_mb", f[5], 1e6)?,
            net_in_bytes_per_sec: self.figure(n, "cap_nw_in_kbps", f[6], 1e3)?,
            net_out_bytes_per_sec: self.figure(n, "cap_nw_out_kbps", f[7], 1e3)?,
        };
        if self.broker_index.contains_key(&id) {
            return Err(self.err(n, format!("broker {id} is declared twice")));
        }
        let brokers = &mut self.cluster.snapshot.brokers;
        self.broker_index.insert(id, brokers.len());
        brokers.push(BrokerInfo {
            id,
            rack: f[2].to_owned(),
            state: if alive {
                BrokerState::Alive
            } else {
                BrokerState::Dead
            },
            capacity,
            disk_known: true,
            disk_used_bytes: None,
        });
        Ok(())
    }

    fn replica(&mut self, n: usize, f: &[&str]) -> Result<(), Error> {
        let partition: i32 = self.int(n, "partition", f[2])?;
        let position: usize = self.int(n, "position", f[3])?;
        let broker: i32 = self.int(n, "broker", f[4])?;
        let leader = self.bool(n, "is_leader", f[5])?;
        self.figure(n, "cpu", f[6], 1.0)?;
        let replica = Replica {
            position,
            broker,
            leader,
            disk_bytes: self.figure(n, "disk_mb", f[7], 1e6)?,
            in_bytes: self.figure(n, "nw_in_kbps", f[8], 1e3)?,
            out_bytes: self.figure(n, "nw_out_kbps", f[9], 1e3)?,
        };
        if !self.broker_index.contains_key(&broker) {
            return Err(self.err(
                n,
                format!("replica on broker {broker}, which no 'broker' line declared before it"),
            ));
        }
        let topic = self.cluster.snapshot.topics.intern(f[1]);
        let key = (topic, partition);
        let i = match self.partitions.get(&key) {
            Some(&i) => i,
            None => {
                self.partitions.insert(key, self.replicas.len());
                self.replicas.push((key, Vec::new()));
                self.replicas.len() - 1
            }
        };
        self.replicas[i].1.push(replica);
        Ok(())
    }

    fn finish(mut self) -> Result<Cluster, Error> {
        let groups = std::mem::take(&mut self.replicas);
        let mut partitions = Vec::with_capacity(groups.len());
        for ((topic, partition), mut replicas) in groups {
            let bad = |message: String| Error::Partition {
                path: self.path.to_owned(),
                topic: self.cluster.snapshot.topics.name(topic).to_string(),
                partition,
                message,
            };
            replicas.sort_by_key(|r| r.position);
            for (i, r) in replicas.iter().enumerate() {
                if r.position != i {
                    return Err(bad(format!(
                        "positions are not 0..{} (found {} at index {i})",
                        replicas.len(),
                        r.position
                    )));
                }
            }
            let mut ids: Vec<i32> = replicas.iter().map(|r| r.broker).collect();
            ids.sort_unstable();
            if ids.windows(2).any(|w| w[0] == w[1]) {
                return Err(bad("a broker holds two replicas".to_owned()));
            }
            let mut leaders = replicas.iter().filter(|r| r.leader);
            let lead = match (leaders.next(), leaders.next()) {
                (Some(l), None) => l,
                (None, _) => return Err(bad("no replica is the leader".to_owned())),
                (Some(_), Some(_)) => return Err(bad("two replicas are the leader".to_owned())),
            };
            let alive = |id: i32| {
                let b = &self.cluster.snapshot.brokers[self.broker_index[&id]];
                b.state != BrokerState::Dead
            };
            let order: Vec<i32> = replicas.iter().map(|r| r.broker).collect();
            let isr: Vec<i32> = order.iter().copied().filter(|&id| alive(id)).collect();
            let leader = if alive(lead.broker) {
                Some(lead.broker)
            } else {
                isr.first().copied()
            };
            partitions.push(PartitionInfo {
                topic,
                partition,
                replicas: order,
                leader,
                isr,
                size_bytes: lead.disk_bytes,
                bytes_in_per_sec: lead.in_bytes,
                bytes_out_per_sec: lead.out_bytes,
                reassigning: false,
            });
        }
        partitions.sort_by_key(|p| (p.topic, p.partition));
        self.cluster.snapshot.partitions = partitions;
        Ok(self.cluster)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::health;

    /// The shared clusters beside the clone (CI checks `shared/` out next to it).
    fn shared(name: &str) -> PathBuf {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/clusters");
        let path = Path::new(dir).join(name);
        assert!(
            path.exists(),
            "missing {}: the shared clusters must sit beside the clone (../shared/clusters)",
            path.display()
        );
        path
    }

    fn text(s: &str) -> Result<Cluster, Error> {
        parse(s.as_bytes(), Path::new("test.tsv"))
    }

    const HEADER: &str = "broker\t1\ta\ttrue\t100\t1000\t100\t200\n\
                          broker\t2\tb\ttrue\t100\t1000\t100\t200\n\
                          broker\t3\tc\tfalse\t100\t1000\t100\t200\n";

    #[test]
    fn takes_the_leaders_figures_in_position_order_at_1000_based_units() {
        let c = text(&format!(
            "{HEADER}# comment\n\
             replica\tt\t0\t1\t1\ttrue\t0.1\t2.5\t3.0\t4.0\n\
             replica\tt\t0\t0\t2\tfalse\t0.1\t9.0\t9.0\t0.0\n"
        ))
        .unwrap();
        let b = &c.snapshot.brokers[0];
        assert_eq!(b.capacity.disk_bytes, 1_000_000_000);
        assert_eq!(b.capacity.net_in_bytes_per_sec, 100_000);
        assert_eq!(b.capacity.net_out_bytes_per_sec, 200_000);
        assert_eq!(c.snapshot.brokers[2].state, BrokerState::Dead);
        let p = &c.snapshot.partitions[0];
        assert_eq!(p.replicas, vec![2, 1]);
        assert_eq!(p.leader, Some(1));
        assert_eq!(p.isr, vec![2, 1]);
        assert_eq!(p.size_bytes, 2_500_000);
        assert_eq!(p.bytes_in_per_sec, 3_000);
        assert_eq!(p.bytes_out_per_sec, 4_000);
    }

    #[test]
    fn a_dead_leader_fails_over_and_leaves_the_isr() {
        let c = text(&format!(
            "{HEADER}replica\tt\t0\t0\t3\ttrue\t0\t1\t1\t1\n\
             replica\tt\t0\t1\t2\tfalse\t0\t1\t1\t0\n\
             replica\tt\t0\t2\t1\tfalse\t0\t1\t1\t0\n"
        ))
        .unwrap();
        let p = &c.snapshot.partitions[0];
        assert_eq!(p.replicas, vec![3, 2, 1]);
        assert_eq!(p.isr, vec![2, 1]);
        assert_eq!(p.leader, Some(2));
        assert_eq!(p.bytes_out_per_sec, 1_000);
    }

    #[test]
    fn bad_input_is_an_error_naming_the_line_or_partition() {
        let cases = [
            (
                "broker\tx\ta\ttrue\t1\t1\t1\t1\n",
                "test.tsv:1: broker id 'x'",
            ),
            (
                "broker\t1\ta\ttrue\t1\t1\t1\n",
                "has 8 tab-separated fields",
            ),
            ("broker\t1\ta\tyes\t1\t1\t1\t1\n", "alive 'yes'"),
            ("broker\t1\ta\ttrue\t1\t-1\t1\t1\n", "cap_disk_mb '-1'"),
            ("node\t1\n", "unknown line kind 'node'"),
            (
                "replica\tt\t0\t0\t9\ttrue\t0\t1\t1\t1\n",
                "replica on broker 9, which no 'broker' line",
            ),
        ];
        for (input, want) in cases {
            let e = text(input).unwrap_err().to_string();
            assert!(e.contains(want), "{input:?}: {e}");
        }
        let partition_cases = [
            (
                "replica\tt\t0\t0\t1\tfalse\t0\t1\t1\t1\n",
                "no replica is the leader",
            ),
            (
                "replica\tt\t0\t0\t1\ttrue\t0\t1\t1\t1\nreplica\tt\t0\t1\t2\ttrue\t0\t1\t1\t1\n",
                "two replicas are the leader",
            ),
            (
                "replica\tt\t0\t0\t1\ttrue\t0\t1\t1\t1\nreplica\tt\t0\t2\t2\tfalse\t0\t1\t1\t1\n",
                "positions are not 0..2",
            ),
            (
                "replica\tt\t0\t0\t1\ttrue\t0\t1\t1\t1\nreplica\tt\t0\t1\t1\tfalse\t0\t1\t1\t1\n",
                "a broker holds two replicas",
            ),
        ];
        for (input, want) in partition_cases {
            let e = text(&format!("{HEADER}{input}")).unwrap_err().to_string();
            assert!(
                e.contains("partition t-0") && e.contains(want),
                "{input:?}: {e}"
            );
        }
        let e = load("/nonexistent/cluster.tsv.gz").unwrap_err().to_string();
        assert!(
            e.contains("cannot read cluster file /nonexistent/cluster.tsv.gz"),
            "{e}"
        );
    }

    /// Figures every shared cluster must show (README: 50 brokers in 3 racks round-robin,
    /// homogeneous capacity, about 16,700 partitions at RF 3 plus one RF 2 topic).
    fn check_shared(c: &Cluster, dead: &[i32]) {
        let s = &c.snapshot;
        assert_eq!(s.brokers.len(), 50);
        for b in &s.brokers {
            assert_eq!(b.rack, (b.id % 3).to_string(), "broker {}", b.id);
            assert_eq!(b.capacity.net_in_bytes_per_sec, 100_000_000);
            assert_eq!(b.capacity.disk_bytes, 1_000_000_000_000);
            let want = if dead.contains(&b.id) {
                BrokerState::Dead
            } else {
                BrokerState::Alive
            };
            assert_eq!(b.state, want, "broker {}", b.id);
        }
        assert!(
            (16_000..17_500).contains(&s.partitions.len()),
            "{}",
            s.partitions.len()
        );
        let rf2 = s
            .partitions
            .iter()
            .filter(|p| p.replicas.len() == 2)
            .count();
        let rf3 = s
            .partitions
            .iter()
            .filter(|p| p.replicas.len() == 3)
            .count();
        assert_eq!(rf2 + rf3, s.partitions.len());
        assert!(rf2 > 0);
        for p in &s.partitions {
            let leader = p.leader.expect("every partition has an alive replica");
            assert!(p.isr.contains(&leader));
            assert!(p.isr.iter().all(|r| !dead.contains(r)));
        }
        // The leaders' figures summed (awk over the file's leader lines, x 1,000 and x 10^6),
        // equal up to rounding each partition to a whole byte.
        let near = |got: u64, want: f64| (got as f64 - want).abs() <= s.partitions.len() as f64;
        let sum = |f: fn(&PartitionInfo) -> u64| s.partitions.iter().map(f).sum::<u64>();
        assert!(near(sum(|p| p.bytes_in_per_sec), 674_588_751.0));
        assert!(near(sum(|p| p.bytes_out_per_sec), 1_999_772_891.0));
        assert!(near(sum(|p| p.size_bytes), 6_775_640_268_440.0));
        let h = health(&c.snapshot);
        assert_eq!(h.rack_violations, 0, "CC's generator places rack-aware");
    }

    #[test]
    fn loads_the_skewed_shared_cluster() {
        let c = load(shared("cc-b50-r50k-skewed.tsv.gz")).unwrap();
        check_shared(&c, &[]);
        assert_eq!(c.snapshot.replica_count(), 50_101);
    }

    #[test]
    fn loads_the_dead_broker_shared_cluster() {
        let c = load(shared("cc-b50-r50k-dead1.tsv.gz")).unwrap();
        check_shared(&c, &[0]);
        assert_eq!(c.snapshot.replica_count(), 50_101);
        let on_dead = c
            .snapshot
            .partitions
            .iter()
            .filter(|p| p.replicas.contains(&0));
        assert_eq!(
            on_dead.count(),
            857,
            "the README's heal moves exactly these"
        );
    }
}
