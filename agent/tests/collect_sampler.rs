//! The whole sampler on a fixture `/proc` and log dir: every collector fills its part, and a
//! failing collector is named in `missing` without stopping the sample.

use std::path::{Path, PathBuf};

use kmedic_agent::collect::{CollectSettings, ImdsSettings, Sampler};
use kmedic_common::stats::{Collector, Probe, ProcessState, ReplicaRole};

const FIXTURE_PROC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/collect/proc");

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A fake `/proc/<pid>` for a Kafka broker started with `props`.
fn fake_kafka(proc_root: &Path, pid: u32, props: &Path) {
    let dir = proc_root.join(pid.to_string());
    std::fs::create_dir_all(dir.join("fd")).unwrap();
    let cmdline = format!(
        "java\0-Xmx1g\0-cp\0libs/*\0kafka.Kafka\0{}\0",
        props.display()
    );
    std::fs::write(dir.join("cmdline"), cmdline).unwrap();
    for fd in 0..5 {
        std::fs::write(dir.join("fd").join(fd.to_string()), "").unwrap();
    }
    std::fs::write(
        dir.join("stat"),
        format!(
            "{pid} (java) S 1 {pid} {pid} 0 -1 4194560 100 0 0 0 500 50 0 0 20 0 \
             80 0 1000 1000000000 50000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 \
             17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        ),
    )
    .unwrap();
}

struct Host {
    _dir: tempfile::TempDir,
    proc_root: PathBuf,
    log_dir: PathBuf,
    props: PathBuf,
}

fn host() -> Host {
    let dir = tempfile::tempdir().unwrap();
    let proc_root = dir.path().join("proc");
    copy_dir(Path::new(FIXTURE_PROC), &proc_root);
    let props = dir.path().join("broker-2").join("server.properties");
    std::fs::create_dir_all(props.parent().unwrap()).unwrap();
    std::fs::write(&props, "node.id=2\n").unwrap();
    let other = dir.path().join("broker-1").join("server.properties");
    fake_kafka(&proc_root, 4242, &props);
    fake_kafka(&proc_root, 1111, &other);
    let log_dir = dir.path().join("data");
    let part = log_dir.join("orders-3");
    std::fs::create_dir_all(&part).unwrap();
    std::fs::File::create(part.join("00000000000000000000.log"))
        .unwrap()
        .set_len(4_096)
        .unwrap();
    Host {
        _dir: dir,
        proc_root,
        log_dir,
        props,
    }
}

fn settings(proc_root: &Path) -> CollectSettings {
    CollectSettings {
        proc_root: proc_root.to_path_buf(),
        sys_root: PathBuf::from("/nonexistent-sys"),
        imds: ImdsSettings {
            enabled: false,
            ..ImdsSettings::default()
        },
        ..CollectSettings::default()
    }
}

#[tokio::test]
async fn heartbeat_and_full_sample_from_fixtures() {
    let h = host();
    let mut sampler = Sampler::new(settings(&h.proc_root), vec![h.log_dir.clone()], 2, None);
    sampler.set_server_properties(&h.props);

    let hb = sampler.heartbeat().await;
    assert_eq!(hb.missing, [] as [Collector; 0], "{hb:?}");
    assert_eq!(hb.process.state, ProcessState::Running);
    assert_eq!(
        hb.process.pid,
        Some(4242),
        "the broker named by its server.properties"
    );
    assert_eq!(hb.process.threads, Some(80));
    assert_eq!(hb.process.open_fds, Some(5));
    assert_eq!(hb.process.probe, Probe::NotRun, "no listener given");
    assert_eq!(hb.host.cores, Some(2));
    assert_eq!(hb.host.load_avg, Some([15.48, 11.94, 9.62]));
    assert_eq!(hb.host.mem_total_bytes, Some(24_684_544 * 1024));

    // Rates need a measurable interval since the heartbeat.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let full = sampler.full().await;
    assert_eq!(full.topics, ["orders"]);
    assert_eq!(full.replicas.len(), 1);
    let r = &full.replicas[0];
    assert_eq!((r.partition, r.size_bytes, r.segments), (3, 4_096, 1));
    assert_eq!(
        r.role,
        ReplicaRole::Unknown,
        "no admin client: roles unknown"
    );
    assert_eq!(full.log_dirs.len(), 1);
    assert_eq!(full.log_dirs[0].device.as_deref(), Some("vda"));
    assert!(full.log_dirs[0].total_bytes.is_some());
    // Without an admin client, roles (and so bytes out) are missing, and said to be.
    assert_eq!(full.missing, [Collector::Metadata, Collector::BytesOut]);
    // Both host samples are rated against the previous one: the fixture did not change.
    assert_eq!(full.host.cpu_percent, None);
    assert_eq!(full.host.net_rx_bytes_per_sec, Some(0));
}

#[tokio::test]
async fn failing_collectors_are_listed_and_the_rest_still_report() {
    let h = host();
    std::fs::remove_file(h.proc_root.join("stat")).unwrap();
    std::fs::remove_file(h.proc_root.join("meminfo")).unwrap();
    std::fs::write(
        h.proc_root.join("net/dev"),
        "garbage\n\nnot a device line\n",
    )
    .unwrap();
    let mut sampler = Sampler::new(
        settings(&h.proc_root),
        vec![h.log_dir.clone(), h.log_dir.join("missing")],
        2,
        None,
    );
    sampler.set_server_properties(&h.props);
    let hb = sampler.heartbeat().await;
    assert_eq!(
        hb.missing,
        [Collector::Network, Collector::Cpu, Collector::Memory]
    );
    assert_eq!(hb.host.cpu_percent, None);
    assert_eq!(hb.host.mem_total_bytes, None);
    // The process collector still worked.
    assert_eq!(hb.process.pid, Some(4242));

    let full = sampler.full().await;
    assert!(full.missing.contains(&Collector::Replicas));
    assert!(full.missing.contains(&Collector::Disk));
    assert_eq!(full.replicas.len(), 1, "the readable log dir still reports");
    let counts: Vec<_> = sampler.error_counts().collect();
    assert!(counts.contains(&(Collector::Cpu, 2)), "{counts:?}");
}

#[tokio::test]
async fn no_kafka_process_is_gone_not_an_error() {
    let h = host();
    std::fs::remove_dir_all(h.proc_root.join("4242")).unwrap();
    let mut sampler = Sampler::new(settings(&h.proc_root), vec![h.log_dir.clone()], 2, None);
    sampler.set_server_properties(&h.props);
    let hb = sampler.heartbeat().await;
    assert_eq!(hb.process.state, ProcessState::Gone);
    assert!(!hb.missing.contains(&Collector::Process));
}
