//! The Kafka side of the testbed on disk: the jars, the java command line, server.properties and
//! the log4j2 config. Every tuning choice is explained next to it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::{TestbedConfig, CONTROLLER_ID};
use crate::{Error, Result};

/// Environment variable naming another folder laid out like tests/kafka (pom.xml, fetch-jars.sh,
/// jars/): used to measure a cold jar fetch without touching the shared cache.
pub const KAFKA_DIR_ENV: &str = "KMEDIC_KAFKA_DIR";

/// Environment variable with extra JVM flags for every Kafka JVM (split on whitespace).
pub const JVM_OPTS_ENV: &str = "KMEDIC_TESTBED_JVM_OPTS";

fn kafka_dir() -> PathBuf {
    match std::env::var_os(KAFKA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("kafka"),
    }
}

/// The folder with the Kafka 4.3.1 jars, fetched by tests/kafka/fetch-jars.sh.
pub fn jars_dir() -> PathBuf {
    kafka_dir().join("jars")
}

/// Makes sure the jars are there and match tests/kafka/pom.xml, by running fetch-jars.sh (a no-op
/// when the marker holds the pom's hash). Never skips: a missing cache either gets fetched or
/// becomes an error that says how to fetch it.
pub fn ensure_jars() -> Result<PathBuf> {
    // Tests in one binary start testbeds in parallel: one fetch at a time (the script itself
    // works in a shared jars.tmp). Cargo runs test binaries one after another.
    static FETCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = jars_dir();
    let script = kafka_dir().join("fetch-jars.sh");
    let fail = |reason: String| Error::Jars {
        dir: dir.display().to_string(),
        reason,
    };
    let status = Command::new(&script)
        .status()
        .map_err(|e| fail(format!("cannot run {}: {e}", script.display())))?;
    if !status.success() {
        return Err(fail(format!("{} exited with {status}", script.display())));
    }
    if !dir.join(".complete").is_file() {
        return Err(fail(
            "the script succeeded but left no .complete marker".into(),
        ));
    }
    Ok(dir)
}

/// A `java` command with small-heap, fast-start flags and the Kafka classpath.
pub(crate) fn java(jars: &Path, heap_mb: u32, log4j: Option<&Path>) -> Command {
    let mut cmd = Command::new("java");
    cmd.arg(format!("-Xmx{heap_mb}m"))
        .arg(format!("-Xms{}m", (heap_mb / 4).max(32)))
        // Two cores shared by seven JVMs and the tests: serial GC uses no extra GC threads, and
        // C1-only JIT starts a broker in a few seconds instead of warming C2 on every core.
        .arg("-XX:+UseSerialGC")
        .arg("-XX:TieredStopAtLevel=1")
        .arg("-XX:CICompilerCount=1")
        .arg("-XX:-UsePerfData")
        .arg("-Djava.awt.headless=true")
        .arg("-Djava.net.preferIPv4Stack=true");
    // Extra flags for experiments and slow machines, e.g. KMEDIC_TESTBED_JVM_OPTS="-Xshare:off".
    if let Ok(extra) = std::env::var(JVM_OPTS_ENV) {
        cmd.args(extra.split_whitespace());
    }
    if let Some(cfg) = log4j {
        cmd.arg(format!("-Dlog4j2.configurationFile={}", cfg.display()));
    }
    cmd.arg("-cp").arg(format!("{}/*", jars.display()));
    cmd
}

/// log4j2 config: console (redirected by the harness to the node's kafka.log), WARN by default and
/// INFO for the broker and controller lifecycle, which is what one reads when a test fails.
pub(crate) const LOG4J2_PROPERTIES: &str = "\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.server.name = kafka.server
logger.server.level = info
logger.controller.name = org.apache.kafka.controller
logger.controller.level = info
logger.kcontroller.name = kafka.controller
logger.kcontroller.level = info
";

fn listener_lines(cfg: &TestbedConfig) -> String {
    format!(
        "controller.listener.names=CONTROLLER\n\
         listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n\
         controller.quorum.voters={CONTROLLER_ID}@127.0.0.1:{}\n",
        cfg.port(CONTROLLER_ID)
    )
}

/// server.properties of the dedicated controller (node.id 100, a static one-voter quorum).
pub(crate) fn controller_properties(cfg: &TestbedConfig, log_dir: &Path) -> String {
    format!(
        "# kmedic testbed: dedicated KRaft controller\n\
         process.roles=controller\n\
         node.id={CONTROLLER_ID}\n\
         listeners=CONTROLLER://127.0.0.1:{port}\n\
         {listeners}\
         log.dirs={dir}\n\
         # Fence a silent broker after this long (Kafka's default is 9 s): tests of kill and hang\n\
         # see the fence quickly, while a JVM pause on a busy 2-core box stays well below it.\n\
         broker.session.timeout.ms={session}\n\
         num.io.threads=2\n\
         num.network.threads=2\n",
        port = cfg.port(CONTROLLER_ID),
        listeners = listener_lines(cfg),
        dir = log_dir.display(),
        session = cfg.session_timeout_ms,
    )
}

/// server.properties of broker `id`.
pub(crate) fn broker_properties(cfg: &TestbedConfig, id: i32, log_dir: &Path) -> String {
    let port = cfg.port(id);
    // Internal topics want RF 3 and min ISR 2 like production; a smaller testbed gets what fits.
    let rf = cfg.brokers.min(3);
    let min_isr = cfg.brokers.min(2);
    let mut text = format!(
        "# kmedic testbed: broker {id}\n\
         process.roles=broker\n\
         node.id={id}\n\
         broker.rack={rack}\n\
         listeners=PLAINTEXT://127.0.0.1:{port}\n\
         advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
         inter.broker.listener.name=PLAINTEXT\n\
         {listeners}\
         log.dirs={dir}\n\
         # Two cores for the whole box: few threads per broker.\n\
         num.network.threads=2\n\
         num.io.threads=2\n\
         num.replica.fetchers=1\n\
         num.recovery.threads.per.data.dir=1\n\
         background.threads=2\n\
         # Heartbeat every second (default 2 s) so a session timeout of a few seconds is safe.\n\
         broker.heartbeat.interval.ms=1000\n\
         # A follower leaves the ISR after 10 s behind (default 30 s): URP tests converge faster.\n\
         replica.lag.time.max.ms=10000\n\
         # kmedic's master elects preferred leaders itself; Kafka must not do it behind its back.\n\
         auto.leader.rebalance.enable=false\n\
         # Tests create every topic they use; a typo must fail, not create a topic.\n\
         auto.create.topics.enable=false\n\
         # 1 MiB segments (Kafka's minimum) so a few MiB of data already spans several segments.\n\
         log.segment.bytes=1048576\n\
         # min.insync.replicas stays at Kafka's default of 1 for user topics: tests that kill\n\
         # brokers can still produce; acks=all still waits for the whole current ISR.\n\
         offsets.topic.replication.factor={rf}\n\
         # Fewer internal partitions (default 50) keep startup and metadata small.\n\
         offsets.topic.num.partitions=10\n\
         transaction.state.log.replication.factor={rf}\n\
         transaction.state.log.min.isr={min_isr}\n\
         transaction.state.log.num.partitions=10\n\
         share.coordinator.state.topic.replication.factor={rf}\n\
         share.coordinator.state.topic.min.isr={min_isr}\n\
         # No 3 s wait before the first consumer group rebalance.\n\
         group.initial.rebalance.delay.ms=0\n",
        rack = cfg.rack(id),
        listeners = listener_lines(cfg),
        dir = log_dir.display(),
    );
    if !cfg.extra_broker_props.is_empty() {
        text.push_str("# extra properties from TestbedConfig::extra_broker_props\n");
        for (k, v) in &cfg.extra_broker_props {
            text.push_str(&format!("{k}={v}\n"));
        }
    }
    text
}

/// A new random Kafka cluster id: 16 random bytes in URL-safe base64 without padding (22 chars),
/// the format `kafka-storage.sh random-uuid` prints. Like Kafka's `Uuid.randomUuid`, it never
/// starts with '-': StorageTool's argument parser would take such an id for an option
/// ("--cluster-id: expected one argument"), about one cluster start in 64.
pub(crate) fn random_cluster_id() -> String {
    use base64::Engine as _;
    loop {
        let bytes: [u8; 16] = rand::random();
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !id.starts_with('-') {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_is_22_url_safe_chars() {
        for _ in 0..100 {
            let id = random_cluster_id();
            assert_eq!(id.len(), 22, "{id}");
            assert!(id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
            assert!(!id.starts_with('-'), "{id} would read as an option");
        }
        assert_ne!(random_cluster_id(), random_cluster_id());
    }

    #[test]
    fn broker_props_carry_id_rack_port_and_small_rf() {
        let cfg = TestbedConfig::default()
            .with_brokers(2)
            .with_port_base(20000)
            .with_broker_prop("log.retention.ms", "1000");
        let p = broker_properties(&cfg, 2, Path::new("/x/data"));
        assert!(p.contains("node.id=2\n"));
        assert!(p.contains("broker.rack=az-b\n"));
        assert!(p.contains("listeners=PLAINTEXT://127.0.0.1:20002\n"));
        assert!(p.contains("controller.quorum.voters=100@127.0.0.1:20000\n"));
        assert!(p.contains("offsets.topic.replication.factor=2\n"));
        assert!(p.ends_with("log.retention.ms=1000\n"));
    }
}
