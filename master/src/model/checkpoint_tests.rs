use super::*;
use crate::clock::Now;
use crate::config::WindowConfig;
use crate::model::window::Demand;

const B: u64 = 900_000;
const T0: u64 = 2_000_000 * B;

fn model() -> ClusterModel {
    let mut m = ClusterModel::new("cid-1", &WindowConfig::default());
    for p in 0..50 {
        for b in 0..5 {
            m.windows.record(
                "orders",
                p,
                T0 + b * B,
                Some(1000 * (p as u64 + b)),
                Some(7),
                false,
            );
        }
    }
    m.windows.mark_reassigning("orders", 3, T0 + 5 * B);
    m
}

#[test]
fn round_trip_keeps_demand_and_cool_downs() {
    let m = model();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/ck");
    let n = save(&path, &[&m], 42, T0 + 5 * B).unwrap();
    assert!(n > 50 * 96 * 4);
    let ck = load(&path, &WindowConfig::default()).unwrap().unwrap();
    assert_eq!((ck.written_at_ms, ck.watermark_ms), (42, T0 + 5 * B));
    let r = &ck.models[0];
    assert_eq!(r.cluster_id, "cid-1");
    assert_eq!(r.windows, m.windows);
    assert_eq!(
        r.windows.demand("orders", 10, T0 + 5 * B),
        Some(Demand {
            in_bytes_per_sec: 14_000,
            out_bytes_per_sec: 7
        })
    );
    // The restored model keeps accepting samples where the old one stopped.
    let mut r = ck.models.into_iter().next().unwrap();
    r.windows
        .record("orders", 10, T0 + 5 * B, Some(98_304), None, false);
    assert_eq!(
        r.windows
            .demand("orders", 10, T0 + 5 * B)
            .unwrap()
            .in_bytes_per_sec,
        98_304
    );
    assert!(!path.with_extension("tmp").exists());
}

#[test]
fn missing_file_is_a_cold_start() {
    let dir = tempfile::tempdir().unwrap();
    assert!(load(&dir.path().join("none"), &WindowConfig::default())
        .unwrap()
        .is_none());
}

#[test]
fn corrupt_or_foreign_files_are_refused_with_a_reason() {
    let m = model();
    let mut bytes = encode(&[&m], 1, 2).unwrap();
    let w = WindowConfig::default();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    assert!(decode(&bytes, &w).unwrap_err().contains("CRC"));
    assert!(decode(b"hello world, not a checkpoint", &w)
        .unwrap_err()
        .contains("magic"));
    let ok = encode(&[&m], 1, 2).unwrap();
    assert!(decode(&ok[..ok.len() - 10], &w).is_err());
}

#[test]
fn another_window_shape_drops_windows_but_keeps_agents() {
    let mut m = model();
    m.agents.insert(
        1,
        AgentState {
            last_seen_ms: 5,
            hostname: "h".into(),
            seq: 1,
            process: kmedic_common::stats::ProcessState::Running,
            ..AgentState::unknown()
        },
    );
    let bytes = encode(&[&m], 1, 2).unwrap();
    let w = WindowConfig {
        bucket_secs: 300,
        ..WindowConfig::default()
    };
    let ck = decode(&bytes, &w).unwrap();
    assert!(ck.models[0].windows.is_empty());
    assert_eq!(ck.models[0].agents.len(), 1);
}

#[test]
fn the_file_layout_is_the_documented_one_and_the_header_goes_through_the_codec() {
    let m = model();
    let bytes = encode(&[&m], 7, 9).unwrap();
    assert_eq!(&bytes[..8], b"KMEDICCK");
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 2);
    let head_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize;
    let header: Header = kmedic_common::codec::decode_value(&bytes[20..20 + head_len]).unwrap();
    assert_eq!((header.written_at_ms, header.watermark_ms), (7, 9));
    assert_eq!(header.clusters[0].keys.len(), 50);
    let ring_len = u64::from_le_bytes(bytes[20 + head_len..28 + head_len].try_into().unwrap());
    assert_eq!(ring_len as usize, 50 * 2 * 96);
    assert_eq!(bytes.len(), 28 + head_len + 50 * 2 * 96 * 2 + 4);
    // A version-1 file (same layout, older header) is refused with the reason.
    let mut v1 = bytes.clone();
    v1[8..12].copy_from_slice(&1u32.to_le_bytes());
    let body = v1.len() - 4;
    let crc = crc32fast::hash(&v1[..body]);
    v1[body..].copy_from_slice(&crc.to_le_bytes());
    assert!(decode(&v1, &WindowConfig::default())
        .unwrap_err()
        .contains("format version 1"));
}

#[test]
fn restored_agents_are_as_old_as_their_records_never_fresh_at_mono_zero() {
    let mut m = model();
    let wall = T0 + 5 * B;
    let mut a = AgentState::unknown();
    a.last_seen_ms = wall - 10 * 60_000;
    a.last_full_ms = Some(wall - 11 * 60_000);
    a.hostname = "h1".into();
    a.clock_skew_ms = -1_500;
    m.agents.insert(1, a.clone());
    // An agent stamped in the future (within the skew bound) is no fresher than the checkpoint.
    a.last_seen_ms = wall + 60_000;
    m.agents.insert(2, a);
    let bytes = encode(&[&m], wall, wall).unwrap();
    // Restored 30 s after the write, in a process whose monotonic clock is at 1 s.
    let now = Now {
        wall_ms: wall + 30_000,
        mono_ms: 1_000,
    };
    let ck = decode_at(&bytes, &WindowConfig::default(), now).unwrap();
    let r = &ck.models[0].agents;
    assert_eq!(r[&1].silent_ms(now.mono_ms), 10 * 60_000 + 30_000);
    assert_eq!(
        r[&1].full_silent_ms(now.mono_ms),
        Some(11 * 60_000 + 30_000)
    );
    assert_eq!(r[&1].clock_skew_ms, -1_500);
    assert_eq!(r[&2].silent_ms(now.mono_ms), 30_000);
}
