//! The model's checkpoint: a local file, written atomically, for a warm start.
//!
//! **Why a local file and not a compacted topic.** The checkpoint is large (about 150 MB at 1M
//! replicas), written every few minutes and read once at start. A file is written with one
//! sequential write and read at disk speed with no broker round trips, message-size limits or
//! chunking; atomicity comes from temp file + fsync + rename. A standby master on another host
//! does not need it to be correct: it rebuilds from the stats topic (which keeps 24 h) and is
//! only slower to warm up. Decisions that must survive a failover (rate limits, maintenance,
//! intents) live in the action log, not here.
//!
//! **Format** (little-endian): magic `KMEDICCK`, format version `u32`, header length `u64`, the
//! header (`kmedic_common::codec::encode_value`: times, per-cluster topics, partition keys,
//! bookkeeping and agent state), then
//! per cluster the bucket ring as raw `u16`s with a `u64` length, and a CRC-32 of everything
//! before it. A file with another version, a bad CRC or a different window shape is refused or
//! its windows dropped, with a log line saying why; the master then rebuilds from the stats topic.
//!
//! Version 2 (this one) added each agent's clock skew and the catch-up sample count; version 1
//! files are refused (a cold start). Monotonic times are not persisted: restored agents get
//! theirs from the age of their newest record (see `model::agent`), so a checkpoint never makes
//! a dead agent look fresh.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::window::{PartitionKey, SlotMeta, Windows};
use super::{AgentState, ClusterModel, SampleCounts};
use crate::clock::Now;
use crate::config::WindowConfig;

const MAGIC: &[u8; 8] = b"KMEDICCK";
/// The checkpoint format version; bump it when the layout changes.
pub const FORMAT_VERSION: u32 = 2;

/// Errors from writing or reading a checkpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    #[error("checkpoint {path}: {op}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a checkpoint this version can read.
    #[error("checkpoint {path} is unusable: {reason}")]
    Unusable {
        /// The file.
        path: PathBuf,
        /// Why (bad magic, version, CRC, truncated).
        reason: String,
    },
    /// Encoding the header failed.
    #[error("checkpoint encoding failed: {0}")]
    Encode(String),
}

/// `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Serialize, Deserialize)]
struct Header {
    written_at_ms: u64,
    watermark_ms: u64,
    clusters: Vec<ClusterHeader>,
}

#[derive(Serialize, Deserialize)]
struct ClusterHeader {
    cluster_id: String,
    bucket_ms: u64,
    buckets: u64,
    cooldown_ms: u64,
    topics: Vec<String>,
    keys: Vec<PartitionKey>,
    meta: Vec<SlotMeta>,
    agents: BTreeMap<i32, AgentState>,
    counts: SampleCounts,
}

/// A loaded checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    /// When it was written (ms since the epoch).
    pub written_at_ms: u64,
    /// The newest stats-topic record time it includes: replay starts here.
    pub watermark_ms: u64,
    /// One model per cluster.
    pub models: Vec<ClusterModel>,
}

/// Encodes models into checkpoint bytes.
pub fn encode(models: &[&ClusterModel], written_at_ms: u64, watermark_ms: u64) -> Result<Vec<u8>> {
    let header = Header {
        written_at_ms,
        watermark_ms,
        clusters: models
            .iter()
            .map(|m| ClusterHeader {
                cluster_id: m.cluster_id.clone(),
                bucket_ms: m.windows.bucket_ms,
                buckets: m.windows.n as u64,
                cooldown_ms: m.windows.cooldown_ms,
                topics: m.windows.topics.clone(),
                keys: m.windows.keys.clone(),
                meta: m.windows.meta.clone(),
                agents: m.agents.clone(),
                counts: m.counts,
            })
            .collect(),
    };
    let head =
        kmedic_common::codec::encode_value(&header).map_err(|e| Error::Encode(e.to_string()))?;
    let ring_bytes: usize = models.iter().map(|m| m.windows.buckets.len() * 2 + 8).sum();
    let mut out = Vec::with_capacity(8 + 4 + 8 + head.len() + ring_bytes + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(head.len() as u64).to_le_bytes());
    out.extend_from_slice(&head);
    for m in models {
        out.extend_from_slice(&(m.windows.buckets.len() as u64).to_le_bytes());
        out.extend(m.windows.buckets.iter().flat_map(|v| v.to_le_bytes()));
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Writes `bytes` to `path` atomically: a temp file beside it, fsync, rename, fsync the dir.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |op: &'static str| {
        move |source| Error::Io {
            path: path.to_path_buf(),
            op,
            source,
        }
    };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(io("create dir"))?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io("create temp file"))?;
    f.write_all(bytes).map_err(io("write"))?;
    f.sync_all().map_err(io("fsync"))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io("rename"))?;
    // The rename is durable only once the directory entry is.
    if let Some(dir) = dir {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync dir"))?;
    }
    Ok(())
}

/// Encodes and writes models atomically; returns the bytes written.
pub fn save(
    path: &Path,
    models: &[&ClusterModel],
    written_at_ms: u64,
    watermark_ms: u64,
) -> Result<usize> {
    let bytes = encode(models, written_at_ms, watermark_ms)?;
    write_atomic(path, &bytes)?;
    Ok(bytes.len())
}

/// Reads a checkpoint. `Ok(None)` when there is none (first start). Windows whose shape differs
/// from `w` are dropped (agent state is kept), because bucket numbers would not line up.
pub fn load(path: &Path, w: &WindowConfig) -> Result<Option<Checkpoint>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                op: "read",
                source,
            })
        }
    };
    decode(&bytes, w)
        .map(Some)
        .map_err(|reason| Error::Unusable {
            path: path.to_path_buf(),
            reason,
        })
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!(
                "truncated: wanted {n} bytes, {} left",
                self.0.len()
            ));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u64(&mut self) -> std::result::Result<u64, String> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().map_err(|_| "short u64")?))
    }
}

/// Decodes checkpoint bytes, restoring agents' monotonic times against the clocks now; the
/// error says why they are unusable.
pub fn decode(bytes: &[u8], w: &WindowConfig) -> std::result::Result<Checkpoint, String> {
    decode_at(bytes, w, Now::read())
}

/// [`decode`] with the clocks given: each agent's evidence of life is as old as its newest
/// record by the wall clock (at least as old as the checkpoint), never "received now".
pub fn decode_at(
    bytes: &[u8],
    w: &WindowConfig,
    now: Now,
) -> std::result::Result<Checkpoint, String> {
    if bytes.len() < 8 + 4 + 8 + 4 || &bytes[..8] != MAGIC {
        return Err("not a kmedic checkpoint (bad magic)".into());
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let crc = u32::from_le_bytes(crc.try_into().map_err(|_| "short crc")?);
    if crc32fast::hash(body) != crc {
        return Err("CRC mismatch: the file is torn or corrupt".into());
    }
    let mut c = Cursor(&body[8..]);
    let version = u32::from_le_bytes(c.take(4)?.try_into().map_err(|_| "short version")?);
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version}, this master reads {FORMAT_VERSION}"
        ));
    }
    let head_len = c.u64()? as usize;
    let header: Header = kmedic_common::codec::decode_value(c.take(head_len)?)
        .map_err(|e| format!("header: {e}"))?;
    let mut models = Vec::with_capacity(header.clusters.len());
    for h in header.clusters {
        let len = c.u64()? as usize;
        let raw = c.take(len.checked_mul(2).ok_or("ring length overflows")?)?;
        let n = h.buckets as usize;
        let slots = h.keys.len();
        if h.meta.len() != slots || len != slots * 2 * n {
            return Err(format!(
                "cluster {}: {} keys, {} meta, {} bucket values for {} buckets each",
                h.cluster_id,
                slots,
                h.meta.len(),
                len,
                n
            ));
        }
        let mut model = ClusterModel::new(h.cluster_id.clone(), w);
        model.agents = h.agents;
        for a in model.agents.values_mut() {
            a.restore_clocks(now, header.written_at_ms);
        }
        model.counts = h.counts;
        if !model.windows.has_shape(h.bucket_ms, n) {
            warn!(
                cluster = %h.cluster_id,
                checkpoint_bucket_ms = h.bucket_ms,
                checkpoint_buckets = n,
                "checkpoint windows have another shape than the config; dropping them and \
                 rebuilding demand from the stats topic"
            );
        } else {
            let topic_ids: HashMap<String, u32> = h
                .topics
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), i as u32))
                .collect();
            let index: HashMap<PartitionKey, u32> = h
                .keys
                .iter()
                .enumerate()
                .map(|(i, k)| (*k, i as u32))
                .collect();
            model.windows = Windows {
                bucket_ms: h.bucket_ms,
                n,
                cooldown_ms: w.cooldown_after_reassignment_secs * 1000,
                topics: h.topics,
                topic_ids,
                keys: h.keys,
                index,
                meta: h.meta,
                buckets: raw
                    .chunks_exact(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
                    .collect(),
            };
        }
        info!(
            cluster = %model.cluster_id,
            partitions = model.windows.len(),
            agents = model.agents.len(),
            "restored cluster model from checkpoint"
        );
        models.push(model);
    }
    Ok(Checkpoint {
        written_at_ms: header.written_at_ms,
        watermark_ms: header.watermark_ms,
        models,
    })
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
