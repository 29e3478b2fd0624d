//! Trials of the testbed harness itself: the cluster it starts, and kill, hang, resume, stop,
//! restart and replace with their real effects; and that no JVM outlives a panicking or killed test.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use kmedic_tests::e2e::{trial, Ctx, Restore};
use kmedic_tests::state::read_state;
use kmedic_tests::{process_alive, process_state, random_topic, wait_until, Testbed};
use libtest_mimic::Trial;

/// The harness's trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![
        trial(ctx, "harness::start_topology", start_topology),
        trial(
            ctx,
            "harness::kill_then_restart_keeps_data",
            kill_then_restart,
        ),
        trial(
            ctx,
            "harness::hang_fences_and_resume_returns",
            hang_and_resume,
        ),
        trial(ctx, "harness::stop_is_graceful", stop_graceful),
        trial(
            ctx,
            "harness::replace_starts_empty_with_same_id",
            replace_empty,
        ),
        trial(ctx, "harness::create_topic_and_produce", topic_and_produce),
        trial(
            ctx,
            "harness::panic_in_test_leaves_no_jvm",
            panic_leaves_no_jvm,
        ),
        trial(
            ctx,
            "harness::panicking_process_leaves_no_jvm",
            panicking_process,
        ),
        trial(
            ctx,
            "harness::sigkilled_process_leaves_no_jvm",
            sigkilled_process,
        ),
        trial(
            ctx,
            "harness::testbed_cli_status_and_down",
            cli_status_and_down,
        ),
    ]
}

/// Margin over the 6 s session timeout for the controller to fence a silent broker.
const FENCE_TIMEOUT: Duration = Duration::from_secs(30);
const HEAL_TIMEOUT: Duration = Duration::from_secs(120);

/// The shared cluster has 6 live brokers with the right racks and ports, and its files exist.
fn start_topology(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let md = tb.metadata()?;
    ensure!(
        md.brokers == vec![1, 2, 3, 4, 5, 6],
        "live brokers: {:?}",
        md.brokers
    );
    let racks = ["az-a", "az-b", "az-c", "az-a", "az-b", "az-c"];
    for (id, rack) in (1..=6).zip(racks) {
        ensure!(tb.rack(id) == rack, "broker {id} rack {}", tb.rack(id));
        let props =
            std::fs::read_to_string(tb.server_properties(id)).context("server.properties")?;
        ensure!(
            props.contains(&format!("broker.rack={rack}\n")),
            "broker {id} lacks its rack"
        );
        ensure!(tb.broker_port(id) == tb.config().port_base + id as u16);
        let meta = std::fs::read_to_string(tb.log_dir(id).join("meta.properties"))?;
        ensure!(
            meta.contains(&format!("cluster.id={}", tb.cluster_id())),
            "{meta}"
        );
        ensure!(meta.contains(&format!("node.id={id}")), "{meta}");
        let pid = tb.pid(id).context("no pid")?;
        ensure!(process_alive(pid), "broker {id} pid {pid} not alive");
        TcpStream::connect(tb.broker_addr(id)).context("broker port closed")?;
    }
    ensure!(tb.controller_pid().is_some_and(process_alive));
    ensure!(!tb.broker_ids().contains(&kmedic_tests::CONTROLLER_ID));
    Ok(())
}

/// Bytes in `*.log` segment files of one partition on one broker.
fn partition_log_bytes(tb: &Testbed, id: i32, topic: &str, partition: i32) -> u64 {
    kmedic_tests::product::segment_bytes(&tb.log_dir(id).join(format!("{topic}-{partition}")))
}

fn live(tb: &Testbed, id: i32) -> anyhow::Result<bool> {
    Ok(tb.metadata()?.brokers.contains(&id))
}

fn kill_then_restart(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let id = 6;
    let topic = random_topic("harness-kill");
    tb.create_topic_with_assignment(&topic, &[vec![id, 1, 2]])?;
    tb.produce(&topic, 3 << 20)?;
    let before = partition_log_bytes(&tb, id, &topic, 0);
    ensure!(
        before >= 3 << 20,
        "broker {id} holds only {before} bytes of {topic}"
    );
    let _guard = Restore::new(&tb, &[id]);
    let old_pid = tb.pid(id).context("no pid before kill")?;

    tb.kill(id)?;
    ensure!(tb.pid(id).is_none(), "pid still reported after kill");
    ensure!(
        !process_alive(old_pid),
        "pid {old_pid} still alive after SIGKILL"
    );
    ensure!(
        TcpStream::connect(tb.broker_addr(id)).is_err(),
        "port still accepts after kill"
    );
    let t = Instant::now();
    wait_until(
        FENCE_TIMEOUT,
        "the killed broker to drop out of metadata",
        || Ok(!live(&tb, id)?),
    )?;
    tracing::info!(secs = t.elapsed().as_secs_f64(), "killed broker fenced");

    tb.restart(id)?;
    let new_pid = tb.pid(id).context("no pid after restart")?;
    ensure!(new_pid != old_pid);
    ensure!(live(&tb, id)?, "restarted broker not live");
    // Same log dir: the data it had before the kill is still there (nothing re-copied from zero).
    let after = partition_log_bytes(&tb, id, &topic, 0);
    ensure!(
        after >= before,
        "restart lost data: {after} < {before} bytes"
    );
    tb.wait_healthy(HEAL_TIMEOUT)?;
    Ok(())
}

fn hang_and_resume(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let id = 5;
    let _guard = Restore::new(&tb, &[id]);
    let pid = tb.pid(id).context("no pid")?;
    tb.hang(id)?;
    wait_until(Duration::from_secs(5), "the process to be stopped", || {
        Ok(process_state(pid) == Some('T'))
    })?;
    let t = Instant::now();
    wait_until(FENCE_TIMEOUT, "the hung broker to be fenced", || {
        Ok(!live(&tb, id)?)
    })?;
    tracing::info!(secs = t.elapsed().as_secs_f64(), "hung broker fenced");
    ensure!(tb.pid(id) == Some(pid), "a hung broker keeps its process");

    tb.resume(id)?;
    ensure!(
        process_state(pid) != Some('T'),
        "still stopped after SIGCONT"
    );
    wait_until(HEAL_TIMEOUT, "the resumed broker to be unfenced", || {
        live(&tb, id)
    })?;
    ensure!(
        tb.pid(id) == Some(pid),
        "resume must not restart the process"
    );
    tb.wait_healthy(HEAL_TIMEOUT)?;
    Ok(())
}

fn stop_graceful(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let id = 3;
    let topic = random_topic("harness-stop");
    // Broker 3 leads the partition: a controlled shutdown hands leadership to another replica.
    tb.create_topic_with_assignment(&topic, &[vec![id, 4, 5]])?;
    let _guard = Restore::new(&tb, &[id]);
    let pid = tb.pid(id).context("no pid")?;
    tb.stop(id)?;
    ensure!(
        !process_alive(pid) && tb.pid(id).is_none(),
        "process still there"
    );
    // Controlled shutdown: out of metadata at once (no session timeout) and leadership moved.
    ensure!(!live(&tb, id)?, "a gracefully stopped broker is still live");
    wait_until(
        Duration::from_secs(10),
        "a new leader on a live broker",
        || {
            let md = tb.metadata()?;
            Ok(md
                .partitions
                .iter()
                .any(|p| p.topic == topic && p.leader >= 0 && p.leader != id))
        },
    )?;
    tb.restart(id)?;
    tb.wait_healthy(HEAL_TIMEOUT)?;
    Ok(())
}

fn meta_value(path: &Path, key: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .with_context(|| format!("{key} missing in {}", path.display()))
}

fn replace_empty(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let id = 4;
    let topic = random_topic("harness-replace");
    tb.create_topic_with_assignment(&topic, &[vec![1, id, 3]])?;
    tb.produce(&topic, 2 << 20)?;
    let _guard = Restore::new(&tb, &[id]);
    let meta = tb.log_dir(id).join("meta.properties");
    let old_dir_id = meta_value(&meta, "directory.id")?;
    let marker = tb.log_dir(id).join("kmedic-old-host-marker");
    std::fs::write(&marker, b"from the old host")?;
    let old_pid = tb.pid(id).context("no pid")?;

    tb.replace(id)?;
    ensure!(
        !process_alive(old_pid),
        "the old process survived the replacement"
    );
    ensure!(!marker.exists(), "the log dir was not emptied");
    ensure!(meta_value(&meta, "node.id")? == id.to_string());
    ensure!(meta_value(&meta, "cluster.id")? == tb.cluster_id());
    ensure!(
        meta_value(&meta, "directory.id")? != old_dir_id,
        "same directory.id: not reformatted"
    );
    ensure!(live(&tb, id)?, "the replacement is not live");
    ensure!(tb.broker_port(id) == tb.config().port_base + id as u16);
    // Kafka refills the empty broker from the other replicas: the data comes back.
    wait_until(
        HEAL_TIMEOUT,
        "the replacement to re-replicate its partition",
        || Ok(partition_log_bytes(&tb, id, &topic, 0) >= 2 << 20),
    )?;
    tb.wait_healthy(HEAL_TIMEOUT)?;
    Ok(())
}

fn topic_and_produce(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let topic = random_topic("harness-produce");
    tb.create_topic(&topic, 6, 3)?;
    let md = tb.metadata()?;
    let parts: Vec<_> = md.partitions.iter().filter(|p| p.topic == topic).collect();
    ensure!(parts.len() == 6, "{} partitions", parts.len());
    ensure!(parts.iter().all(|p| p.replicas.len() == 3 && p.leader >= 0));
    // Rack-aware placement: RF 3 over 3 racks lands in 3 distinct racks.
    for p in &parts {
        let mut racks: Vec<String> = p.replicas.iter().map(|r| tb.rack(*r)).collect();
        racks.sort();
        racks.dedup();
        ensure!(
            racks.len() == 3,
            "partition {} replicas {:?}",
            p.partition,
            p.replicas
        );
    }
    tb.produce(&topic, 6 << 20)?;
    for p in &parts {
        let bytes = partition_log_bytes(&tb, p.leader, &topic, p.partition);
        // Spread evenly: about 1 MiB each, never all in one partition.
        ensure!(
            (900_000..1_300_000).contains(&bytes),
            "partition {} holds {bytes} bytes",
            p.partition
        );
    }
    tb.produce_to(&topic, 2, 3 << 20)?;
    let p2 = parts
        .iter()
        .find(|p| p.partition == 2)
        .context("partition 2")?;
    let bytes = partition_log_bytes(&tb, p2.leader, &topic, 2);
    ensure!(
        bytes >= 4 << 20,
        "partition 2 holds {bytes} bytes after produce_to"
    );
    ensure!(
        tb.produce("no-such-topic-kmedic", 10).is_err(),
        "produce to a missing topic"
    );
    Ok(())
}

fn ports_free(base: u16, brokers: u16) -> bool {
    (0..=brokers).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok())
}

const TEST_PANIC: &str = "a test panics while its testbed runs";

fn panic_leaves_no_jvm(ctx: &Ctx) -> anyhow::Result<()> {
    let mut seen = (Vec::new(), std::path::PathBuf::new(), 0u16);
    let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let tb = ctx.own(1)?;
        let broker = tb.pid(1).context("broker pid")?;
        let controller = tb.controller_pid().context("controller pid")?;
        seen = (
            vec![broker, controller],
            tb.root_dir(),
            tb.config().port_base,
        );
        // The panic is the point of this trial: keep its message out of the test output.
        std::panic::set_hook(Box::new(|_| {}));
        std::panic::panic_any(TEST_PANIC);
        #[allow(unreachable_code)]
        anyhow::Ok(())
    }));
    let _ = std::panic::take_hook(); // back to the default hook
    match started {
        Ok(Ok(())) => bail!("the closure was meant to panic"),
        Ok(Err(e)) => return Err(e.context("starting the private testbed")),
        Err(payload) => ensure!(
            payload.downcast_ref::<&str>() == Some(&TEST_PANIC),
            "an unexpected panic: {:?}",
            payload.downcast_ref::<String>()
        ),
    }
    let (pids, root, base) = seen;
    ensure!(pids.len() == 2, "the testbed never started");
    for pid in pids {
        ensure!(!process_alive(pid), "JVM pid {pid} survived the panic");
    }
    ensure!(!root.exists(), "temp dir {} left behind", root.display());
    ensure!(ports_free(base, 1), "ports from {base} still taken");
    Ok(())
}

/// Starts `kmedic-testbed up` for a 1-broker cluster in a child process; returns it, the state
/// dir and the port base.
fn spawn_testbed(
    ctx: &Ctx,
    panic: bool,
) -> anyhow::Result<(std::process::Child, tempfile::TempDir, u16)> {
    let dir = tempfile::tempdir()?;
    let base = ctx.own_port_base();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kmedic-testbed"));
    cmd.arg("--state-dir")
        .arg(dir.path())
        .arg("up")
        .arg("--brokers")
        .arg("1");
    cmd.arg("--port-base")
        .arg(base.to_string())
        .arg("--die-with-parent");
    if panic {
        cmd.arg("--panic-after-start");
    }
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    Ok((child, dir, base))
}

fn kafka_pids(dir: &Path) -> anyhow::Result<Vec<u32>> {
    let state = read_state(&dir.join("state.json"))?;
    Ok(state.nodes.iter().filter_map(|n| n.pid).collect())
}

fn panicking_process(ctx: &Ctx) -> anyhow::Result<()> {
    let (mut child, dir, base) = spawn_testbed(ctx, true)?;
    let status = child.wait()?;
    ensure!(!status.success(), "the child was meant to panic");
    let pids = kafka_pids(dir.path()).context("the child panicked before its cluster started")?;
    ensure!(pids.len() == 2, "pids {pids:?}");
    // Drop ran during unwinding: the JVMs are gone the moment the process is.
    let alive: Vec<u32> = pids.into_iter().filter(|p| process_alive(*p)).collect();
    ensure!(alive.is_empty(), "JVMs {alive:?} survived the panic");
    ensure!(ports_free(base, 1), "ports from {base} still taken");
    Ok(())
}

/// Waits until the child `kmedic-testbed up` has written its state file (its cluster is ready);
/// kills it and fails at once if it exits first.
fn wait_for_state(child: &mut std::process::Child, dir: &Path) -> anyhow::Result<()> {
    let state = dir.join("state.json");
    let deadline = Instant::now() + Duration::from_secs(180);
    while !state.is_file() {
        if let Some(s) = child.try_wait()? {
            bail!("kmedic-testbed up exited early with {s}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("kmedic-testbed up wrote no state within 180 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

fn sigkilled_process(ctx: &Ctx) -> anyhow::Result<()> {
    let (mut child, dir, base) = spawn_testbed(ctx, false)?;
    wait_for_state(&mut child, dir.path())?;
    let pids = kafka_pids(dir.path())?;
    ensure!(
        pids.len() == 2 && pids.iter().all(|p| process_alive(*p)),
        "pids {pids:?}"
    );
    child.kill()?; // SIGKILL: no Drop runs; PR_SET_PDEATHSIG must take the JVMs down.
    child.wait()?;
    wait_until(
        Duration::from_secs(10),
        "the JVMs to die with their parent",
        || Ok(pids.iter().all(|p| !process_alive(*p))),
    )?;
    wait_until(Duration::from_secs(10), "the ports to be free", || {
        Ok(ports_free(base, 1))
    })?;
    Ok(())
}

/// What `deploy/testbed status` and `down` run: status shows the live broker with its rack and
/// port, and down stops every JVM and the supervisor.
fn cli_status_and_down(ctx: &Ctx) -> anyhow::Result<()> {
    let (mut child, dir, base) = spawn_testbed(ctx, false)?;
    wait_for_state(&mut child, dir.path())?;
    let pids = kafka_pids(dir.path())?;
    let cli = |cmd: &str| {
        Command::new(env!("CARGO_BIN_EXE_kmedic-testbed"))
            .arg("--state-dir")
            .arg(dir.path())
            .arg(cmd)
            .output()
    };
    let out = cli("status")?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(out.status.success(), "status failed: {text}");
    let broker_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("1  broker"))
        .with_context(|| format!("no broker line in:\n{text}"))?;
    ensure!(
        broker_line.contains(&(base + 1).to_string()),
        "{broker_line}"
    );
    ensure!(broker_line.contains("az-a"), "{broker_line}");
    ensure!(
        broker_line.contains("registered, unfenced"),
        "{broker_line}"
    );
    ensure!(text.contains("controller"), "{text}");

    let out = cli("down")?;
    ensure!(
        out.status.success(),
        "down failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = child.wait()?;
    ensure!(
        status.success(),
        "the supervisor did not stop cleanly: {status}"
    );
    ensure!(
        pids.iter().all(|p| !process_alive(*p)),
        "JVMs {pids:?} outlived down"
    );
    ensure!(
        ports_free(base, 1),
        "ports from {base} still taken after down"
    );
    ensure!(
        !dir.path().join("state.json").exists(),
        "state file left after down"
    );
    Ok(())
}
