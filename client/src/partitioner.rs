//! The routing decision, pure: given the leader map, the producer's AZ, a topic and a key, which
//! partition (if any) to set on the record.
//!
//! - Keyed records are never routed here ([`Route::Hashed`]): the record goes out without a
//!   partition and librdkafka's configured `partitioner` hashes the key over ALL partitions, so
//!   keyed ordering and placement are exactly what they are without this crate.
//! - Unkeyed records go to partitions led in the producer's AZ. Like librdkafka's sticky
//!   partitioner (`sticky.partitioning.linger.ms`, 10 ms by default) one partition is used for a
//!   while so records batch well, then the next local partition in turn, so local partitions get
//!   even shares over time.
//! - When the AZ is unknown, the topic is not in the map yet, or no partition is led in the AZ,
//!   the record goes out without a partition ([`Route::Fallback`]): librdkafka's default
//!   spreads it over all partitions.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use crate::leaders::LeaderMap;

/// Where one record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A partition led in the producer's AZ.
    Local(i32),
    /// A keyed record: librdkafka hashes the key over all partitions.
    Hashed,
    /// All partitions, as librdkafka's default would, and why.
    Fallback(Fallback),
}

impl Route {
    /// The partition to set on the record; `None` leaves the choice to librdkafka.
    pub fn partition(self) -> Option<i32> {
        match self {
            Route::Local(p) => Some(p),
            Route::Hashed | Route::Fallback(_) => None,
        }
    }
}

/// Why an unkeyed record is not kept in the producer's AZ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fallback {
    /// The producer does not know its AZ (not configured and IMDS did not answer).
    AzUnknown,
    /// The topic's leaders are not known yet (the first records, before a metadata refresh).
    TopicUnknown,
    /// No partition of the topic is led in the producer's AZ.
    NoLocalLeader,
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fallback::AzUnknown => "the producer's AZ is unknown",
            Fallback::TopicUnknown => "the topic's leaders are not known yet",
            Fallback::NoLocalLeader => "no partition of the topic is led in the producer's AZ",
        })
    }
}

/// The partition in use for a topic, and since when.
#[derive(Debug, Clone, Copy)]
struct Sticky {
    partition: i32,
    since: Instant,
    /// Index into the local list of the next partition to switch to.
    next: usize,
}

/// Per topic: the partitions led in the producer's AZ (sorted, computed at each update, so a
/// record costs one map lookup) and the sticky partition.
#[derive(Debug, Default)]
struct TopicRoute {
    local: Vec<i32>,
    sticky: Option<Sticky>,
}

/// The per-producer routing state: leader map, own AZ, sticky partitions.
#[derive(Debug)]
pub struct AzPartitioner {
    az: Option<String>,
    sticky_for: Duration,
    leaders: LeaderMap,
    routes: HashMap<String, TopicRoute>,
    /// Where a topic's rotation starts, so producers started together spread out.
    seed: usize,
}

impl AzPartitioner {
    /// A partitioner for a producer in `az` (`None`: unknown, everything falls back), keeping an
    /// unkeyed topic's records on one partition for `sticky_for` before moving to the next
    /// local one (zero: a new partition for every record).
    pub fn new(az: Option<String>, sticky_for: Duration) -> Self {
        AzPartitioner {
            az,
            sticky_for,
            leaders: LeaderMap::default(),
            routes: HashMap::new(),
            seed: std::process::id() as usize
                ^ std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos() as usize),
        }
    }

    /// The same partitioner with a fixed start of rotation (for tests).
    pub fn with_seed(mut self, seed: usize) -> Self {
        self.seed = seed;
        self
    }

    /// The producer's AZ.
    pub fn az(&self) -> Option<&str> {
        self.az.as_deref()
    }

    /// The leader map in use.
    pub fn leaders(&self) -> &LeaderMap {
        &self.leaders
    }

    /// Takes a newer answer for the topics it describes. A sticky partition no longer led here
    /// is left at the next record.
    pub fn update(&mut self, newer: LeaderMap) {
        let topics: Vec<String> = newer.topic_names().map(str::to_string).collect();
        self.leaders.merge(newer);
        for topic in topics {
            let local = match (self.az.as_deref(), self.leaders.topic(&topic)) {
                (Some(az), Some(t)) => t.led_in(az).to_vec(),
                _ => Vec::new(),
            };
            self.routes.entry(topic).or_default().local = local;
        }
    }

    /// Where a record for `topic` with `key` goes, at `now`.
    pub fn route(&mut self, topic: &str, key: Option<&[u8]>, now: Instant) -> Route {
        if key.is_some() {
            return Route::Hashed;
        }
        if self.az.is_none() {
            return Route::Fallback(Fallback::AzUnknown);
        }
        let Some(TopicRoute { local, sticky }) = self.routes.get_mut(topic) else {
            return Route::Fallback(Fallback::TopicUnknown);
        };
        if local.is_empty() {
            return Route::Fallback(Fallback::NoLocalLeader);
        }
        if let Some(s) = sticky {
            let fresh = now.saturating_duration_since(s.since) < self.sticky_for;
            if fresh && local.binary_search(&s.partition).is_ok() {
                return Route::Local(s.partition);
            }
            let partition = local[s.next % local.len()];
            *s = Sticky {
                partition,
                since: now,
                next: (s.next % local.len()) + 1,
            };
            return Route::Local(partition);
        }
        // A new topic starts at a spot that differs between producers (their AZ-local lists are
        // the same), so many producers started together do not all begin on one partition.
        let start = self.seed % local.len();
        let partition = local[start];
        *sticky = Some(Sticky {
            partition,
            since: now,
            next: start + 1,
        });
        Route::Local(partition)
    }
}

#[cfg(test)]
mod tests;
