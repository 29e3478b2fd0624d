//! The versioned envelope around stats records: the only module that uses bincode.
//!
//! Wire layout (all integers big-endian in the header):
//!
//! ```text
//! offset  size  field
//! 0       4     magic  b"KMST"
//! 4       2     schema version (u16), currently SCHEMA_VERSION
//! 6       1     kind: 1 = heartbeat, 2 = full stats
//! 7       4     payload length in bytes (u32)
//! 11      n     payload: bincode 2 (serde, standard config) of Heartbeat or FullStats
//! ```
//!
//! The kind sits in the header, not in the payload, so a reader can route or skip a record with
//! [`peek`] without decoding it (the master skips full stats it cannot use yet, for example).
//!
//! RUSTSEC-2025-0141 marks bincode as unmaintained. bincode is used only here, behind
//! [`encode`]/[`decode`] (and [`encode_value`]/[`decode_value`] for the master's checkpoint
//! header), so it can be swapped for another format by adding a new schema version without
//! touching the schema types or any caller.

use crate::stats::{FullStats, Heartbeat, StatsRecord};
use serde::{de::DeserializeOwned, Serialize};

/// The four bytes every record starts with.
pub const MAGIC: [u8; 4] = *b"KMST";

/// The schema version this build writes. Bump it (and add a golden fixture) whenever a type in
/// [`crate::stats`] changes shape.
pub const SCHEMA_VERSION: u16 = 1;

/// Size of the fixed header before the payload.
pub const HEADER_LEN: usize = 11;

/// Default largest payload [`decode`] accepts: 16 MiB. A 4,000-replica full record is far
/// smaller (see the codec bench), so anything this big is corrupt or hostile.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Hard ceiling for any configured maximum; also bincode's own decode limit, so that even a
/// lying length prefix inside the payload cannot make bincode claim more than this.
pub const HARD_MAX_PAYLOAD_BYTES: usize = 256 * 1024 * 1024;

/// bincode's standard configuration (varint integers, little endian) with a decode limit.
fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<HARD_MAX_PAYLOAD_BYTES>()
}

/// Which record a payload holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A [`Heartbeat`].
    Heartbeat,
    /// A [`FullStats`].
    Full,
}

impl Kind {
    /// The byte that stands for this kind on the wire.
    pub fn to_byte(self) -> u8 {
        match self {
            Kind::Heartbeat => 1,
            Kind::Full => 2,
        }
    }

    /// The kind for a wire byte, if known.
    pub fn from_byte(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Heartbeat),
            2 => Some(Kind::Full),
            _ => None,
        }
    }

    /// The kind of a record.
    pub fn of(record: &StatsRecord) -> Kind {
        match record {
            StatsRecord::Heartbeat(_) => Kind::Heartbeat,
            StatsRecord::Full(_) => Kind::Full,
        }
    }
}

/// A record's header, read by [`peek`] without touching the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Schema version of the payload.
    pub version: u16,
    /// Heartbeat or full stats.
    pub kind: Kind,
    /// Payload length in bytes, as the header claims it.
    pub payload_len: u32,
}

/// Why a record could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// Fewer bytes than the header or the claimed payload needs.
    #[error("truncated record: need {needed} bytes, got {got}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The record does not start with [`MAGIC`]: not a kmedic stats record.
    #[error("bad magic {found:02x?}: not a kmedic stats record (expected {MAGIC:02x?})")]
    BadMagic {
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// A schema version this build cannot read (a newer agent than this master, most likely).
    #[error(
        "unknown schema version {version} (this build reads {SCHEMA_VERSION}); upgrade the reader"
    )]
    UnknownVersion {
        /// The version in the header.
        version: u16,
    },
    /// A kind byte other than heartbeat or full.
    #[error("unknown record kind {kind}")]
    UnknownKind {
        /// The kind byte.
        kind: u8,
    },
    /// The payload is larger than the reader accepts.
    #[error("payload of {len} bytes exceeds the limit of {max} bytes")]
    Oversized {
        /// Claimed or actual payload length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// Bytes left over after the payload the header announced.
    #[error("{extra} trailing bytes after the record")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The payload did not decode as the announced kind.
    #[error("payload does not decode as {kind:?}: {source}")]
    Payload {
        /// The kind the header announced.
        kind: Kind,
        /// bincode's reason.
        #[source]
        source: bincode::error::DecodeError,
    },
    /// The payload decoded but did not use all of its announced length.
    #[error("payload of {len} bytes decoded using only {used}")]
    PayloadNotConsumed {
        /// Announced length.
        len: usize,
        /// Bytes the decoder used.
        used: usize,
    },
    /// Encoding failed (cannot happen for the derived stats types; kept so callers never panic).
    #[error("cannot encode record: {0}")]
    Encode(#[from] bincode::error::EncodeError),
}

/// Result with [`CodecError`] as the default error.
pub type Result<T, E = CodecError> = std::result::Result<T, E>;

/// Encodes a record into a complete envelope.
///
/// # Panics
///
/// Never for the stats types: they are plain serde-derived structs whose sequences all have a
/// known length, which bincode always encodes, and a payload over 4 GiB would need hundreds of
/// millions of replicas. Use [`try_encode`] where even that must be an error.
pub fn encode(record: &StatsRecord) -> Vec<u8> {
    match try_encode(record) {
        Ok(bytes) => bytes,
        // Unreachable for the derived types above; a panic here is a programming error in
        // crate::stats (for example a serializer with unknown-length sequences).
        Err(e) => panic!("stats record cannot be encoded: {e}"),
    }
}

/// Encodes a record into a complete envelope, returning an error instead of panicking.
pub fn try_encode(record: &StatsRecord) -> Result<Vec<u8>> {
    match record {
        StatsRecord::Heartbeat(h) => encode_payload(Kind::Heartbeat, h),
        StatsRecord::Full(f) => encode_payload(Kind::Full, f),
    }
}

fn encode_payload<T: Serialize>(kind: Kind, value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&SCHEMA_VERSION.to_be_bytes());
    out.push(kind.to_byte());
    out.extend_from_slice(&[0; 4]); // length, patched below once known
    bincode::serde::encode_into_std_write(value, &mut out, bincode_config())?;
    let len = out.len() - HEADER_LEN;
    let len32 = u32::try_from(len).map_err(|_| CodecError::Oversized {
        len,
        max: u32::MAX as usize,
    })?;
    out[7..HEADER_LEN].copy_from_slice(&len32.to_be_bytes());
    Ok(out)
}

/// Reads and checks the header only: magic, version, kind. Cheap; does not look at the payload,
/// so it does not prove the payload is complete or valid.
pub fn peek(bytes: &[u8]) -> Result<Header> {
    let Some(head) = bytes.get(..HEADER_LEN) else {
        return Err(CodecError::Truncated {
            needed: HEADER_LEN,
            got: bytes.len(),
        });
    };
    let mut magic = [0u8; 4];
    magic.copy_from_slice(&head[0..4]);
    if magic != MAGIC {
        return Err(CodecError::BadMagic { found: magic });
    }
    let version = u16::from_be_bytes([head[4], head[5]]);
    if version != SCHEMA_VERSION {
        return Err(CodecError::UnknownVersion { version });
    }
    let kind = Kind::from_byte(head[6]).ok_or(CodecError::UnknownKind { kind: head[6] })?;
    let payload_len = u32::from_be_bytes([head[7], head[8], head[9], head[10]]);
    Ok(Header {
        version,
        kind,
        payload_len,
    })
}

/// Decodes a complete envelope with the default payload limit ([`DEFAULT_MAX_PAYLOAD_BYTES`]).
pub fn decode(bytes: &[u8]) -> Result<StatsRecord> {
    decode_with_max(bytes, DEFAULT_MAX_PAYLOAD_BYTES)
}

/// Decodes a complete envelope, rejecting payloads over `max_payload_bytes` (capped at
/// [`HARD_MAX_PAYLOAD_BYTES`]) before reading them.
pub fn decode_with_max(bytes: &[u8], max_payload_bytes: usize) -> Result<StatsRecord> {
    let header = peek(bytes)?;
    let len = header.payload_len as usize;
    let max = max_payload_bytes.min(HARD_MAX_PAYLOAD_BYTES);
    if len > max {
        return Err(CodecError::Oversized { len, max });
    }
    let needed = HEADER_LEN + len;
    if bytes.len() < needed {
        return Err(CodecError::Truncated {
            needed,
            got: bytes.len(),
        });
    }
    if bytes.len() > needed {
        return Err(CodecError::TrailingBytes {
            extra: bytes.len() - needed,
        });
    }
    let payload = &bytes[HEADER_LEN..];
    Ok(match header.kind {
        Kind::Heartbeat => {
            StatsRecord::Heartbeat(decode_payload::<Heartbeat>(header.kind, payload)?)
        }
        Kind::Full => StatsRecord::Full(decode_payload::<FullStats>(header.kind, payload)?),
    })
}

fn decode_payload<T: DeserializeOwned>(kind: Kind, payload: &[u8]) -> Result<T> {
    let (value, used) = bincode::serde::decode_from_slice::<T, _>(payload, bincode_config())
        .map_err(|source| CodecError::Payload { kind, source })?;
    if used != payload.len() {
        return Err(CodecError::PayloadNotConsumed {
            len: payload.len(),
            used,
        });
    }
    Ok(value)
}

/// Largest value [`decode_value`] accepts: 1 GiB (a checkpoint header at a million replicas is
/// well under 100 MiB).
pub const MAX_VALUE_BYTES: usize = 1 << 30;

/// Encodes any serde value as bincode 2 (standard configuration), with no envelope: for the
/// master's checkpoint, so that this module stays the only bincode user.
pub fn encode_value<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    Ok(bincode::serde::encode_to_vec(
        value,
        bincode::config::standard(),
    )?)
}

/// Decodes a value written by [`encode_value`]; every byte must be used.
pub fn decode_value<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ValueError> {
    let (value, used) = bincode::serde::decode_from_slice::<T, _>(
        bytes,
        bincode::config::standard().with_limit::<MAX_VALUE_BYTES>(),
    )
    .map_err(ValueError::Decode)?;
    if used != bytes.len() {
        return Err(ValueError::NotConsumed {
            len: bytes.len(),
            used,
        });
    }
    Ok(value)
}

/// Why [`decode_value`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The bytes do not decode as the type asked for.
    #[error("does not decode: {0}")]
    Decode(#[source] bincode::error::DecodeError),
    /// The value decoded without using every byte.
    #[error("{len} bytes decoded using only {used}")]
    NotConsumed {
        /// Bytes given.
        len: usize,
        /// Bytes used.
        used: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_are_where_the_doc_says() {
        // A minimal valid-looking heartbeat header with an empty payload: peek accepts it, decode
        // fails on the payload, not on the header.
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&SCHEMA_VERSION.to_be_bytes());
        bytes.push(1);
        bytes.extend_from_slice(&0u32.to_be_bytes());
        let h = peek(&bytes).unwrap();
        assert_eq!(h.kind, Kind::Heartbeat);
        assert_eq!(h.payload_len, 0);
        assert!(matches!(decode(&bytes), Err(CodecError::Payload { .. })));
    }

    #[test]
    fn rejects_bad_magic_version_kind_and_oversize() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&SCHEMA_VERSION.to_be_bytes());
        bytes.push(2);
        bytes.extend_from_slice(&100u32.to_be_bytes());
        assert!(matches!(
            decode_with_max(&bytes, 99),
            Err(CodecError::Oversized { len: 100, max: 99 })
        ));
        let mut b = bytes.clone();
        b[0] = b'X';
        assert!(matches!(peek(&b), Err(CodecError::BadMagic { .. })));
        let mut b = bytes.clone();
        b[5] = 9;
        assert!(matches!(
            peek(&b),
            Err(CodecError::UnknownVersion { version: 9 })
        ));
        let mut b = bytes;
        b[6] = 7;
        assert!(matches!(peek(&b), Err(CodecError::UnknownKind { kind: 7 })));
    }

    #[test]
    fn values_round_trip_and_leftovers_are_refused() {
        let v: (u64, String, Vec<i32>) = (7, "x".into(), vec![1, -2, 3]);
        let bytes = encode_value(&v).unwrap();
        // bincode 2 standard: varint 7, length-prefixed string, length-prefixed zigzag ints.
        assert_eq!(bytes, [7, 1, b'x', 3, 2, 3, 6]);
        assert_eq!(decode_value::<(u64, String, Vec<i32>)>(&bytes).unwrap(), v);
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(
            decode_value::<(u64, String, Vec<i32>)>(&long),
            Err(ValueError::NotConsumed { len: 8, used: 7 })
        ));
        assert!(matches!(
            decode_value::<(u64, String, Vec<i32>)>(&bytes[..3]),
            Err(ValueError::Decode(_))
        ));
    }
}
