//! The codec's promises: every record round-trips, old records still decode (golden fixtures),
//! and no input, however broken, makes decoding panic.
//!
//! To (re)write the golden fixtures after a deliberate schema change (with a version bump):
//! `KMEDIC_WRITE_GOLDEN=1 cargo test -p kmedic-common --test codec write_golden -- --ignored`

mod support;

use kmedic_common::codec::{self, CodecError, Kind, HEADER_LEN, MAGIC, SCHEMA_VERSION};
use kmedic_common::stats::StatsRecord;
use proptest::prelude::*;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn goldens() -> Vec<(&'static str, StatsRecord)> {
    vec![
        ("heartbeat-v1.bin", support::golden_heartbeat()),
        ("full-v1.bin", support::golden_full()),
    ]
}

#[test]
#[ignore = "writes fixtures; run with KMEDIC_WRITE_GOLDEN=1 after a deliberate schema change"]
fn write_golden() {
    if std::env::var_os("KMEDIC_WRITE_GOLDEN").is_none() {
        eprintln!("KMEDIC_WRITE_GOLDEN not set: fixtures left as they are");
        return;
    }
    for (name, record) in goldens() {
        std::fs::write(fixture(name), codec::encode(&record)).unwrap();
    }
}

#[test]
fn golden_fixtures_decode_to_the_constructed_values_and_reencode_identically() {
    for (name, expected) in goldens() {
        let bytes = std::fs::read(fixture(name))
            .unwrap_or_else(|e| panic!("{name}: {e}; see this file's header to write fixtures"));
        let decoded = codec::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded, expected, "{name} decodes to a different value");
        assert_eq!(
            codec::encode(&expected),
            bytes,
            "{name}: encoding changed; bump SCHEMA_VERSION and add a new fixture"
        );
        let header = codec::peek(&bytes).unwrap();
        assert_eq!(header.version, SCHEMA_VERSION);
        assert_eq!(header.payload_len as usize, bytes.len() - HEADER_LEN);
        assert_eq!(header.kind, Kind::of(&expected));
    }
}

#[test]
fn every_truncation_of_a_valid_record_is_an_error() {
    for (name, record) in goldens() {
        let bytes = codec::encode(&record);
        for cut in 0..bytes.len() {
            let res = codec::decode(&bytes[..cut]);
            assert!(
                matches!(res, Err(CodecError::Truncated { .. })),
                "{name} cut at {cut}/{}: {res:?}",
                bytes.len()
            );
        }
    }
}

#[test]
fn trailing_bytes_and_a_short_payload_length_are_rejected() {
    let mut bytes = codec::encode(&support::golden_full());
    bytes.push(0);
    assert!(matches!(
        codec::decode(&bytes),
        Err(CodecError::TrailingBytes { extra: 1 })
    ));
    // Header claims one byte less than the payload really has: the payload cannot decode whole.
    let mut bytes = codec::encode(&support::golden_full());
    let len = u32::from_be_bytes(bytes[7..11].try_into().unwrap()) - 1;
    bytes[7..11].copy_from_slice(&len.to_be_bytes());
    bytes.pop();
    assert!(codec::decode(&bytes).is_err());
}

#[test]
fn oversized_payload_is_rejected_before_reading_it() {
    let bytes = codec::encode(&support::realistic_full(4_000));
    let len = bytes.len() - HEADER_LEN;
    assert!(codec::decode(&bytes).is_ok());
    assert!(matches!(
        codec::decode_with_max(&bytes, len - 1),
        Err(CodecError::Oversized { .. })
    ));
    // A header claiming 4 GiB with no payload behind it: rejected by size, never allocated.
    let mut huge = bytes[..HEADER_LEN].to_vec();
    huge[7..11].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        codec::decode(&huge),
        Err(CodecError::Oversized { .. })
    ));
}

#[test]
fn a_heartbeat_header_over_a_full_payload_is_an_error() {
    let mut bytes = codec::encode(&support::golden_full());
    bytes[6] = Kind::Heartbeat.to_byte();
    assert!(codec::decode(&bytes).is_err());
}

proptest! {
    #[test]
    fn round_trip(record in support::stats_record()) {
        let bytes = codec::encode(&record);
        prop_assert_eq!(&bytes[..4], &MAGIC[..]);
        prop_assert_eq!(codec::decode(&bytes).unwrap(), record);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = codec::decode(&bytes);
        let _ = codec::peek(&bytes);
    }

    #[test]
    fn random_payload_behind_a_valid_header_never_panics(
        kind in 1u8..=2,
        payload in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&SCHEMA_VERSION.to_be_bytes());
        bytes.push(kind);
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&payload);
        let _ = codec::decode(&bytes);
    }

    #[test]
    fn flipped_bytes_in_a_valid_record_never_panic(
        record in support::stats_record(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = codec::encode(&record);
        for (i, v) in flips {
            let at = i.index(bytes.len());
            bytes[at] = v;
        }
        let _ = codec::decode(&bytes);
    }
}
