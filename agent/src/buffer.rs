//! The bounded buffer in front of the producer: records wait here while the stats cluster is
//! unreachable. When it is full the OLDEST records are dropped and counted, because the master
//! cares most about the latest state of a broker, and a gap in `seq` tells it what was lost.

use std::collections::VecDeque;

use kmedic_common::codec::Kind;

/// One encoded record waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The record's sequence number (for logs).
    pub seq: u64,
    /// Heartbeat or full.
    pub kind: Kind,
    /// The encoded envelope.
    pub bytes: Vec<u8>,
}

/// A FIFO bounded both in records and in bytes.
#[derive(Debug)]
pub struct BoundedBuffer {
    queue: VecDeque<Pending>,
    bytes: usize,
    max_records: usize,
    max_bytes: usize,
}

impl BoundedBuffer {
    /// An empty buffer holding at most `max_records` records and `max_bytes` bytes (at least one
    /// record is always kept, even when it alone exceeds `max_bytes`).
    pub fn new(max_records: usize, max_bytes: usize) -> Self {
        BoundedBuffer {
            queue: VecDeque::new(),
            bytes: 0,
            max_records: max_records.max(1),
            max_bytes,
        }
    }

    /// Appends a new record, dropping the oldest ones to make room. Returns what was dropped.
    pub fn push_back(&mut self, p: Pending) -> Vec<Pending> {
        let mut dropped = Vec::new();
        while !self.queue.is_empty()
            && (self.queue.len() + 1 > self.max_records
                || self.bytes + p.bytes.len() > self.max_bytes)
        {
            if let Some(old) = self.pop_front() {
                dropped.push(old);
            }
        }
        self.bytes += p.bytes.len();
        self.queue.push_back(p);
        dropped
    }

    /// Puts back a record whose delivery failed, at the front: it is older than everything
    /// queued. If there is no room, it is the oldest record and is the one dropped, returned as
    /// `Err`.
    pub fn push_front(&mut self, p: Pending) -> Result<(), Pending> {
        if self.queue.len() + 1 > self.max_records || self.bytes + p.bytes.len() > self.max_bytes {
            return Err(p);
        }
        self.bytes += p.bytes.len();
        self.queue.push_front(p);
        Ok(())
    }

    /// Takes the oldest record.
    pub fn pop_front(&mut self) -> Option<Pending> {
        let p = self.queue.pop_front()?;
        self.bytes -= p.bytes.len();
        Some(p)
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Encoded bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64, len: usize) -> Pending {
        Pending {
            seq,
            kind: Kind::Heartbeat,
            bytes: vec![0; len],
        }
    }

    #[test]
    fn drops_oldest_when_record_limit_is_hit() {
        let mut b = BoundedBuffer::new(3, 1_000);
        for s in 0..3 {
            assert!(b.push_back(rec(s, 10)).is_empty());
        }
        let dropped = b.push_back(rec(3, 10));
        assert_eq!(dropped.iter().map(|p| p.seq).collect::<Vec<_>>(), vec![0]);
        let left: Vec<u64> = std::iter::from_fn(|| b.pop_front())
            .map(|p| p.seq)
            .collect();
        assert_eq!(left, vec![1, 2, 3]);
        assert_eq!(b.bytes(), 0);
    }

    #[test]
    fn drops_as_many_oldest_as_the_byte_limit_needs() {
        let mut b = BoundedBuffer::new(100, 100);
        b.push_back(rec(0, 40));
        b.push_back(rec(1, 40));
        let dropped = b.push_back(rec(2, 90));
        assert_eq!(dropped.len(), 2);
        assert_eq!((b.len(), b.bytes()), (1, 90));
        // One record larger than the byte limit is still kept: better one than none.
        let dropped = b.push_back(rec(3, 500));
        assert_eq!(dropped.len(), 1);
        assert_eq!((b.len(), b.bytes()), (1, 500));
    }

    #[test]
    fn a_failed_record_goes_back_first_or_is_the_one_dropped() {
        let mut b = BoundedBuffer::new(2, 1_000);
        b.push_back(rec(5, 10));
        assert!(b.push_front(rec(4, 10)).is_ok());
        assert_eq!(b.push_front(rec(3, 10)).map_err(|p| p.seq), Err(3));
        assert_eq!(b.pop_front().map(|p| p.seq), Some(4));
    }
}
