//! Per-partition demand windows: bytes in and bytes out per second, in time buckets.
//!
//! **Demand is the max of the bucket means** over the window (default: 96 buckets of 15 min =
//! 24 h). A 15-minute mean already smooths the spikes a percentile would drop, and the daily peak
//! is what must fit under a broker's network limit: planning on a p95 of bucket means would
//! knowingly overload a broker during the peak hour of each day. The cost is that one unusual
//! busy quarter-hour is remembered for a day; that errs on the safe side (the planner moves less
//! onto a broker, not more). It also needs no sorting, which keeps queries cheap.
//!
//! **Layout.** All partitions of a cluster share one flat `Vec<u16>`: per partition `n` buckets
//! of bytes-in followed by `n` of bytes-out, as a ring indexed by `bucket_number % n`. Each value
//! is a 16-bit minifloat (see [`encode`]) with under 0.05 % error, rounded up, so 1M replicas at
//! RF 3 (333k partitions) take 333k x 96 x 2 x 2 B = 128 MB. The bucket being filled is held as
//! an exact sum and count beside it. Rates are per partition, not per replica, because every
//! replica of a partition appends the same bytes; bytes out is taken from the leader only, since
//! consumers read from the leader.
//!
//! Samples flagged as reassigning, and samples within the cool-down after one, are ignored:
//! catch-up replication traffic is not demand. So are followers out of sync (see `ClusterModel`).
//!
//! All arithmetic on rates and times saturates: no sample or query, however extreme, panics or
//! wraps (a wrapped sum would read as a tiny demand).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A bucket with no samples.
pub const EMPTY: u16 = u16::MAX;
/// The largest storable code (everything above saturates to it).
const MAX_CODE: u16 = EMPTY - 1;

/// Encodes bytes per second as a monotone 16-bit minifloat, rounding up.
///
/// Codes 0..2048 are exact; above, 5 bits of exponent and 11 of mantissa (with an implicit
/// leading one) keep the relative error under 2^-11. Monotone codes mean the max of codes is the
/// code of the max.
pub fn encode(v: u64) -> u16 {
    if v < 2048 {
        return v as u16;
    }
    let msb = 63 - v.leading_zeros(); // >= 11
    let mut e = msb - 10; // >= 1
    let shift = e - 1;
    let mut m = (v >> shift) - 2048;
    if v & ((1u64 << shift) - 1) != 0 {
        m += 1; // round up: demand must never be under-stated
    }
    if m == 2048 {
        m = 0;
        e += 1;
    }
    if e > 31 {
        return MAX_CODE;
    }
    (((e as u16) << 11) | m as u16).min(MAX_CODE)
}

/// Decodes a value written by [`encode`]. [`EMPTY`] decodes as 0.
pub fn decode(code: u16) -> u64 {
    if code == EMPTY {
        return 0;
    }
    let e = (code >> 11) as u32;
    let m = (code & 0x7ff) as u64;
    if e == 0 {
        m
    } else {
        (2048 + m) << (e - 1)
    }
}

/// A partition, with its topic interned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionKey {
    /// Index into the window's topic table.
    pub topic: u32,
    /// Partition number.
    pub partition: i32,
}

/// Per-partition bookkeeping beside the buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotMeta {
    /// The bucket number (`ts / bucket`) being accumulated; 0 = no sample yet.
    pub cur_bucket: u32,
    /// Samples before this time (ms) are ignored: the partition was reassigning.
    pub excluded_until_ms: u64,
    /// Sum of bytes-in rates in the current bucket.
    pub in_sum: u64,
    /// Sum of bytes-out rates in the current bucket.
    pub out_sum: u64,
    /// Bytes-in samples in the current bucket.
    pub in_n: u32,
    /// Bytes-out samples in the current bucket.
    pub out_n: u32,
}

/// What happened to a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleOutcome {
    /// Added to the current bucket.
    Recorded,
    /// The partition was reassigning; the cool-down starts (or restarts) now.
    Reassigning,
    /// Within the cool-down after a reassignment.
    CoolingDown,
    /// Older than the bucket being filled; dropped.
    Late,
}

/// A partition's demand in bytes per second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Demand {
    /// Max over the window of the bucket means of bytes in per second.
    pub in_bytes_per_sec: u64,
    /// Max over the window of the bucket means of bytes out per second (leader only).
    pub out_bytes_per_sec: u64,
}

/// The demand windows of one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    pub(crate) bucket_ms: u64,
    pub(crate) n: usize,
    pub(crate) cooldown_ms: u64,
    pub(crate) topics: Vec<String>,
    pub(crate) topic_ids: HashMap<String, u32>,
    pub(crate) keys: Vec<PartitionKey>,
    pub(crate) index: HashMap<PartitionKey, u32>,
    pub(crate) meta: Vec<SlotMeta>,
    pub(crate) buckets: Vec<u16>,
}

impl Windows {
    /// Empty windows of `n` buckets of `bucket_ms`, ignoring samples for `cooldown_ms` after a
    /// reassignment.
    pub fn new(bucket_ms: u64, n: usize, cooldown_ms: u64) -> Self {
        Self {
            bucket_ms: bucket_ms.max(1),
            n: n.max(1),
            cooldown_ms,
            topics: Vec::new(),
            topic_ids: HashMap::new(),
            keys: Vec::new(),
            index: HashMap::new(),
            meta: Vec::new(),
            buckets: Vec::new(),
        }
    }

    /// Whether these windows have the given shape (a checkpoint of another shape is discarded).
    pub fn has_shape(&self, bucket_ms: u64, n: usize) -> bool {
        self.bucket_ms == bucket_ms && self.n == n
    }

    /// Partitions tracked.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no partition is tracked.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Reserves room for `partitions` more partitions (avoids regrowth when the size is known).
    pub fn reserve(&mut self, partitions: usize) {
        self.keys.reserve(partitions);
        self.index.reserve(partitions);
        self.meta.reserve(partitions);
        self.buckets
            .reserve(partitions.saturating_mul(2).saturating_mul(self.n));
    }

    /// Heap bytes held, counted from capacities (hash maps estimated from their capacity).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let map_entry = |k: usize, v: usize| k + v + 1;
        self.buckets.capacity() * 2
            + self.meta.capacity() * size_of::<SlotMeta>()
            + self.keys.capacity() * size_of::<PartitionKey>()
            + self.index.capacity() * map_entry(size_of::<PartitionKey>(), 4)
            + self
                .topics
                .iter()
                .map(|t| t.capacity() * 2 + size_of::<String>() + 4)
                .sum::<usize>()
            + self.topic_ids.capacity() * map_entry(size_of::<String>(), 4)
    }

    /// The interned id of `topic`, adding it if new. Callers applying many replicas of one
    /// record intern its topic table once and use [`Windows::record_id`].
    pub fn topic_id(&mut self, topic: &str) -> u32 {
        match self.topic_ids.get(topic) {
            Some(&t) => t,
            None => {
                let t = self.topics.len() as u32;
                self.topics.push(topic.to_string());
                self.topic_ids.insert(topic.to_string(), t);
                t
            }
        }
    }

    fn slot_of(&mut self, topic: &str, partition: i32) -> usize {
        let t = self.topic_id(topic);
        self.slot_of_id(t, partition)
    }

    fn slot_of_id(&mut self, t: u32, partition: i32) -> usize {
        let key = PartitionKey {
            topic: t,
            partition,
        };
        if let Some(&s) = self.index.get(&key) {
            return s as usize;
        }
        let s = self.keys.len();
        self.keys.push(key);
        self.index.insert(key, s as u32);
        self.meta.push(SlotMeta::default());
        self.buckets.resize(self.buckets.len() + 2 * self.n, EMPTY);
        s
    }

    fn slot(&self, topic: &str, partition: i32) -> Option<usize> {
        let t = *self.topic_ids.get(topic)?;
        self.index
            .get(&PartitionKey {
                topic: t,
                partition,
            })
            .map(|&s| s as usize)
    }

    /// Adds one sample of a partition's rates taken at `ts_ms`. `out_bps` should be `Some` only
    /// for the leader's replica.
    pub fn record(
        &mut self,
        topic: &str,
        partition: i32,
        ts_ms: u64,
        in_bps: Option<u64>,
        out_bps: Option<u64>,
        reassigning: bool,
    ) -> SampleOutcome {
        let t = self.topic_id(topic);
        self.record_id(t, partition, ts_ms, in_bps, out_bps, reassigning)
    }

    /// [`Windows::record`] with a topic id from [`Windows::topic_id`].
    pub fn record_id(
        &mut self,
        topic_id: u32,
        partition: i32,
        ts_ms: u64,
        in_bps: Option<u64>,
        out_bps: Option<u64>,
        reassigning: bool,
    ) -> SampleOutcome {
        let s = self.slot_of_id(topic_id, partition);
        let n = self.n;
        let b = (ts_ms / self.bucket_ms).min(u32::MAX as u64) as u32;
        let m = &mut self.meta[s];
        if reassigning {
            m.excluded_until_ms = m
                .excluded_until_ms
                .max(ts_ms.saturating_add(self.cooldown_ms));
            return SampleOutcome::Reassigning;
        }
        if ts_ms < m.excluded_until_ms {
            return SampleOutcome::CoolingDown;
        }
        if m.cur_bucket != 0 && b < m.cur_bucket {
            return SampleOutcome::Late;
        }
        if b != m.cur_bucket {
            let ring = &mut self.buckets[s * 2 * n..(s + 1) * 2 * n];
            if m.cur_bucket != 0 {
                let i = m.cur_bucket as usize % n;
                ring[i] = mean_code(m.in_sum, m.in_n);
                ring[n + i] = mean_code(m.out_sum, m.out_n);
                // Buckets skipped without samples are cleared; they may hold a value from a
                // full window ago.
                let gap = ((b - m.cur_bucket - 1) as usize).min(n);
                for k in 1..=gap {
                    let j = (m.cur_bucket as usize + k) % n;
                    ring[j] = EMPTY;
                    ring[n + j] = EMPTY;
                }
            }
            let j = b as usize % n;
            ring[j] = EMPTY;
            ring[n + j] = EMPTY;
            *m = SlotMeta {
                cur_bucket: b,
                excluded_until_ms: m.excluded_until_ms,
                ..SlotMeta::default()
            };
        }
        // Saturating: a hostile or broken agent's u64::MAX must not wrap a sum to a small
        // demand (or panic a debug build); a saturated sum reads as the largest code.
        if let Some(v) = in_bps {
            m.in_sum = m.in_sum.saturating_add(v);
            m.in_n = m.in_n.saturating_add(1);
        }
        if let Some(v) = out_bps {
            m.out_sum = m.out_sum.saturating_add(v);
            m.out_n = m.out_n.saturating_add(1);
        }
        SampleOutcome::Recorded
    }

    /// Starts the cool-down for a partition seen reassigning by the admin client (not only by an
    /// agent's flag).
    pub fn mark_reassigning(&mut self, topic: &str, partition: i32, ts_ms: u64) {
        let s = self.slot_of(topic, partition);
        let m = &mut self.meta[s];
        m.excluded_until_ms = m
            .excluded_until_ms
            .max(ts_ms.saturating_add(self.cooldown_ms));
    }

    /// The partition's demand at `now_ms`, or `None` if it has no sample inside the window.
    pub fn demand(&self, topic: &str, partition: i32, now_ms: u64) -> Option<Demand> {
        let s = self.slot(topic, partition)?;
        let m = &self.meta[s];
        if m.cur_bucket == 0 {
            return None;
        }
        let n = self.n as u64;
        let now_b = (now_ms / self.bucket_ms).max(m.cur_bucket as u64);
        let oldest = now_b.saturating_sub(n - 1); // first bucket number inside the window
        let cur = m.cur_bucket as u64;
        if cur < oldest {
            return None;
        }
        let ring = &self.buckets[s * 2 * self.n..(s + 1) * 2 * self.n];
        let (mut din, mut dout) = (None::<u16>, None::<u16>);
        for b in oldest.max(cur.saturating_sub(n - 1))..cur {
            let i = (b % n) as usize;
            for (acc, code) in [(&mut din, ring[i]), (&mut dout, ring[self.n + i])] {
                if code != EMPTY {
                    *acc = Some(acc.map_or(code, |a| a.max(code)));
                }
            }
        }
        let cur_in = (m.in_n > 0).then(|| mean_code(m.in_sum, m.in_n));
        let cur_out = (m.out_n > 0).then(|| mean_code(m.out_sum, m.out_n));
        let din = din.max(cur_in);
        let dout = dout.max(cur_out);
        if din.is_none() && dout.is_none() {
            return None;
        }
        Some(Demand {
            in_bytes_per_sec: din.map_or(0, decode),
            out_bytes_per_sec: dout.map_or(0, decode),
        })
    }
}

fn mean_code(sum: u64, n: u32) -> u16 {
    if n == 0 {
        EMPTY
    } else {
        encode(sum.div_ceil(n as u64))
    }
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
