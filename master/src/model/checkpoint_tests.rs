use super::*;
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
            last_full_ms: None,
            hostname: "h".into(),
            rack: None,
            az: None,
            seq: 1,
            process: kmedic_common::stats::ProcessState::Running,
            probe: None,
            net_rx_bytes_per_sec: None,
            net_tx_bytes_per_sec: None,
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
