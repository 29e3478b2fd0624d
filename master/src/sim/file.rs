//! The cluster file: a documented, versioned JSON form of a simulator [`Cluster`], so other
//! tools (Kafka's `--generate` algorithm through `bench/java/`, any other balancer) plan exactly
//! the cluster our planner plans. Written gzipped when the path ends in `.gz`; read gzipped or
//! plain (detected from the gzip magic bytes). The format is described in BENCHMARKS.md ("The
//! cluster file"); it is stable: a change that an old reader would misread bumps [`VERSION`].
//!
//! ```json
//! {"format": "kmedic-cluster", "version": 1,
//!  "brokers": [{"id": 1, "rack": "az-a", "state": "alive",
//!               "capacity": {"net_in_bytes_per_sec": 100000000,
//!                            "net_out_bytes_per_sec": 200000000, "disk_bytes": 8000000000000}}],
//!  "topics": [{"name": "t0", "partitions": [
//!     {"partition": 0, "replicas": [1, 2, 3], "leader": 1, "isr": [1, 2, 3],
//!      "size_bytes": 1000, "bytes_in_per_sec": 10, "bytes_out_per_sec": 20}]}]}
//! ```
//!
//! Optional fields, omitted at their defaults: a broker's `disk_known` (true) and
//! `disk_used_bytes` (absent); a partition's `reassigning` (false); `leader` is `null` for an
//! offline partition. Moves in flight are not part of the file (a planning input of the master,
//! not a property of the cluster).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cluster::Cluster;
use crate::plan::{BrokerInfo, BrokerState, Capacity, PartitionInfo};

/// The `format` field every cluster file carries.
pub const FORMAT: &str = "kmedic-cluster";
/// The version this code writes and reads.
pub const VERSION: u32 = 1;

/// Why a cluster file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be created, written or read.
    #[error("cluster file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("cluster file {path} is not a valid cluster file: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause, with line and column.
        source: serde_json::Error,
    },
    /// Another format or a version this code does not read.
    #[error(
        "cluster file {path}: format '{format}' version {version}; this build reads \
         '{FORMAT}' version {VERSION} (write it again with this build)"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its `format`.
        format: String,
        /// Its `version`.
        version: u32,
    },
    /// The same topic appears twice, or a partition twice in a topic.
    #[error("cluster file {path}: {what} appears twice")]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The topic or topic-partition.
        what: String,
    },
}

#[derive(Serialize, Deserialize)]
struct FileV1 {
    format: String,
    version: u32,
    #[serde(default)]
    brokers: Vec<FileBroker>,
    #[serde(default)]
    topics: Vec<FileTopic>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBroker {
    id: i32,
    rack: String,
    state: FileState,
    capacity: FileCapacity,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    disk_known: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disk_used_bytes: Option<u64>,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum FileState {
    Alive,
    Suspect,
    Dead,
    Decommissioning,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCapacity {
    net_in_bytes_per_sec: u64,
    net_out_bytes_per_sec: u64,
    disk_bytes: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTopic {
    name: String,
    partitions: Vec<FilePartition>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePartition {
    partition: i32,
    replicas: Vec<i32>,
    leader: Option<i32>,
    isr: Vec<i32>,
    size_bytes: u64,
    bytes_in_per_sec: u64,
    bytes_out_per_sec: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    reassigning: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl From<BrokerState> for FileState {
    fn from(s: BrokerState) -> Self {
        match s {
            BrokerState::Alive => FileState::Alive,
            BrokerState::Suspect => FileState::Suspect,
            BrokerState::Dead => FileState::Dead,
            BrokerState::Decommissioning => FileState::Decommissioning,
        }
    }
}

impl From<FileState> for BrokerState {
    fn from(s: FileState) -> Self {
        match s {
            FileState::Alive => BrokerState::Alive,
            FileState::Suspect => BrokerState::Suspect,
            FileState::Dead => BrokerState::Dead,
            FileState::Decommissioning => BrokerState::Decommissioning,
        }
    }
}

/// Writes `cluster` to `path` (gzipped when it ends in `.gz`). Topics in [`TopicId`] order,
/// partitions in snapshot order within a topic.
///
/// [`TopicId`]: crate::plan::TopicId
pub fn write(cluster: &Cluster, path: impl AsRef<Path>) -> Result<(), Error> {
    let path = path.as_ref();
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::create(path).map_err(io)?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    if gz {
        // Level 1: at 10M replicas, fast beats small; JSON still shrinks several fold.
        let mut w =
            flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
        to_writer(cluster, &mut w, path)?;
        w.finish().map_err(io)?.flush().map_err(io)
    } else {
        let mut w = BufWriter::new(file);
        to_writer(cluster, &mut w, path)?;
        w.flush().map_err(io)
    }
}

/// Writes `cluster` as cluster-file JSON to `w`; `path` names it in errors.
pub fn to_writer(cluster: &Cluster, w: impl Write, path: &Path) -> Result<(), Error> {
    let s = &cluster.snapshot;
    let mut topics: Vec<FileTopic> = s
        .topics
        .names()
        .iter()
        .map(|n| FileTopic {
            name: n.to_string(),
            partitions: Vec::new(),
        })
        .collect();
    for p in &s.partitions {
        topics[p.topic.0 as usize].partitions.push(FilePartition {
            partition: p.partition,
            replicas: p.replicas.clone(),
            leader: p.leader,
            isr: p.isr.clone(),
            size_bytes: p.size_bytes,
            bytes_in_per_sec: p.bytes_in_per_sec,
            bytes_out_per_sec: p.bytes_out_per_sec,
            reassigning: p.reassigning,
        });
    }
    topics.retain(|t| !t.partitions.is_empty());
    let file = FileV1 {
        format: FORMAT.to_owned(),
        version: VERSION,
        brokers: s
            .brokers
            .iter()
            .map(|b| FileBroker {
                id: b.id,
                rack: b.rack.clone(),
                state: b.state.into(),
                capacity: FileCapacity {
                    net_in_bytes_per_sec: b.capacity.net_in_bytes_per_sec,
                    net_out_bytes_per_sec: b.capacity.net_out_bytes_per_sec,
                    disk_bytes: b.capacity.disk_bytes,
                },
                disk_known: b.disk_known,
                disk_used_bytes: b.disk_used_bytes,
            })
            .collect(),
        topics,
    };
    serde_json::to_writer(w, &file).map_err(|source| Error::Json {
        path: path.to_owned(),
        source,
    })
}

/// Reads a cluster file (gzipped or plain).
pub fn read(path: impl AsRef<Path>) -> Result<Cluster, Error> {
    let path = path.as_ref();
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let gzipped = reader.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    if gzipped {
        from_reader(
            BufReader::new(flate2::read::MultiGzDecoder::new(reader)),
            path,
        )
    } else {
        from_reader(reader, path)
    }
}

/// Reads cluster-file JSON from `r`; `path` names it in errors.
pub fn from_reader(r: impl std::io::Read, path: &Path) -> Result<Cluster, Error> {
    let file: FileV1 = serde_json::from_reader(r).map_err(|source| Error::Json {
        path: path.to_owned(),
        source,
    })?;
    if file.format != FORMAT || file.version != VERSION {
        return Err(Error::Version {
            path: path.to_owned(),
            format: file.format,
            version: file.version,
        });
    }
    let dup = |what: String| Error::Duplicate {
        path: path.to_owned(),
        what,
    };
    let mut cluster = Cluster::new();
    let s = &mut cluster.snapshot;
    s.brokers = file
        .brokers
        .into_iter()
        .map(|b| BrokerInfo {
            id: b.id,
            rack: b.rack,
            state: b.state.into(),
            capacity: Capacity {
                net_in_bytes_per_sec: b.capacity.net_in_bytes_per_sec,
                net_out_bytes_per_sec: b.capacity.net_out_bytes_per_sec,
                disk_bytes: b.capacity.disk_bytes,
            },
            disk_known: b.disk_known,
            disk_used_bytes: b.disk_used_bytes,
        })
        .collect();
    let mut ids: Vec<i32> = s.brokers.iter().map(|b| b.id).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(dup(format!("broker {}", w[0])));
    }
    for t in file.topics {
        if s.topics.get(&t.name).is_some() {
            return Err(dup(format!("topic '{}'", t.name)));
        }
        let topic = s.topics.intern(&t.name);
        let mut seen: Vec<i32> = t.partitions.iter().map(|p| p.partition).collect();
        seen.sort_unstable();
        if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
            return Err(dup(format!("partition {}-{}", t.name, w[0])));
        }
        s.partitions
            .extend(t.partitions.into_iter().map(|p| PartitionInfo {
                topic,
                partition: p.partition,
                replicas: p.replicas,
                leader: p.leader,
                isr: p.isr,
                size_bytes: p.size_bytes,
                bytes_in_per_sec: p.bytes_in_per_sec,
                bytes_out_per_sec: p.bytes_out_per_sec,
                reassigning: p.reassigning,
            }));
    }
    Ok(cluster)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{generate, Spec};

    fn same(a: &Cluster, b: &Cluster) {
        assert_eq!(a.snapshot.brokers, b.snapshot.brokers);
        assert_eq!(a.snapshot.topics.names(), b.snapshot.topics.names());
        assert_eq!(a.snapshot.partitions, b.snapshot.partitions);
    }

    #[test]
    fn a_generated_cluster_round_trips_plain_and_gzipped() {
        let mut c = generate(&Spec::new(9, 3_000, 7));
        c.kill(2).set_disk_unknown(3).set_disk_used(4, 12_345);
        c.set_state(5, BrokerState::Suspect);
        c.set_state(6, BrokerState::Decommissioning);
        c.set_reassigning(0);
        let dir = tempfile::tempdir().unwrap();
        for name in ["c.json", "c.json.gz"] {
            let path = dir.path().join(name);
            write(&c, &path).unwrap();
            same(&c, &read(&path).unwrap());
        }
        let plain = std::fs::metadata(dir.path().join("c.json")).unwrap().len();
        let gz = std::fs::metadata(dir.path().join("c.json.gz"))
            .unwrap()
            .len();
        assert!(gz * 3 < plain, "gzip {gz} vs plain {plain}");
    }

    #[test]
    fn the_documented_example_reads() {
        let text = r#"{"format": "kmedic-cluster", "version": 1,
          "brokers": [{"id": 1, "rack": "az-a", "state": "alive",
             "capacity": {"net_in_bytes_per_sec": 100000000,
                          "net_out_bytes_per_sec": 200000000, "disk_bytes": 8000000000000}}],
          "topics": [{"name": "t0", "partitions": [
             {"partition": 0, "replicas": [1, 2, 3], "leader": 1, "isr": [1, 2, 3],
              "size_bytes": 1000, "bytes_in_per_sec": 10, "bytes_out_per_sec": 20}]}]}"#;
        let c = from_reader(text.as_bytes(), Path::new("x")).unwrap();
        let b = &c.snapshot.brokers[0];
        assert!(b.disk_known && b.disk_used_bytes.is_none() && b.state == BrokerState::Alive);
        let p = &c.snapshot.partitions[0];
        assert_eq!(
            (p.replicas.clone(), p.leader, p.size_bytes),
            (vec![1, 2, 3], Some(1), 1000)
        );
        assert!(!p.reassigning);
    }

    #[test]
    fn wrong_version_duplicates_and_bad_json_are_clear_errors() {
        let cases = [
            (
                r#"{"format":"kmedic-cluster","version":2}"#,
                "version 2; this build reads 'kmedic-cluster' version 1",
            ),
            (r#"{"format":"other","version":1}"#, "format 'other'"),
            (
                r#"{"format":"kmedic-cluster""#,
                "is not a valid cluster file",
            ),
            (
                r#"{"format":"kmedic-cluster","version":1,"topics":[{"name":"a","partitions":[]},{"name":"a","partitions":[]}]}"#,
                "topic 'a' appears twice",
            ),
            (
                r#"{"format":"kmedic-cluster","version":1,"brokers":[{"id":1,"rack":"","state":"alive","capacity":{"net_in_bytes_per_sec":1,"net_out_bytes_per_sec":1,"disk_bytes":1}},{"id":1,"rack":"","state":"dead","capacity":{"net_in_bytes_per_sec":1,"net_out_bytes_per_sec":1,"disk_bytes":1}}]}"#,
                "broker 1 appears twice",
            ),
            (
                r#"{"format":"kmedic-cluster","version":1,"brokers":[{"id":1,"rack":"","state":"gone","capacity":{"net_in_bytes_per_sec":1,"net_out_bytes_per_sec":1,"disk_bytes":1}}]}"#,
                "unknown variant `gone`",
            ),
        ];
        for (text, want) in cases {
            let e = from_reader(text.as_bytes(), Path::new("f.json")).unwrap_err();
            let e = e.to_string();
            assert!(e.contains("f.json") && e.contains(want), "{text}: {e}");
        }
        let e = read("/nonexistent/c.json").unwrap_err().to_string();
        assert!(e.contains("cluster file /nonexistent/c.json"), "{e}");
    }
}
