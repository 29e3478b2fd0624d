//! The quiet context's sorting, its once-per-broker WARN, and a real librdkafka client pointed at
//! a port nobody listens on (no cluster needed): no ERROR line, one WARN.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientConfig;

use super::*;

const REFUSED: &str = "127.0.0.1:19801/bootstrap: Connect to ipv4#127.0.0.1:19801 failed: \
                       Connection refused (after 0ms in state CONNECT)";

#[test]
fn a_refused_connection_is_transport_keyed_by_its_broker() {
    let e = KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure);
    assert_eq!(
        classify_error(&e, REFUSED),
        Class::Transport("127.0.0.1:19801/bootstrap".into())
    );
    let line = format!("[thrd:127.0.0.1:19801/bootstrap]: {REFUSED}");
    assert_eq!(
        classify_log(&line),
        Class::Transport("127.0.0.1:19801/bootstrap".into())
    );
    let all = KafkaError::Global(RDKafkaErrorCode::AllBrokersDown);
    assert_eq!(
        classify_error(&all, "1/1 brokers are down"),
        Class::Transport("all brokers".into())
    );
    assert_eq!(
        classify_log("[thrd:app]: 1/1 brokers are down"),
        Class::Transport("all brokers".into())
    );
}

#[test]
fn requests_timed_out_at_a_broker_are_transport_keyed_by_it() {
    // librdkafka's REQTMOUT lines while a broker is dead or stalled: one per request batch.
    for line in [
        "[thrd:127.0.0.1:19302/2]: 127.0.0.1:19302/2: Timed out 3 in-flight, 0 retry-queued, \
         0 out-queue, 0 partially-sent requests",
        "[thrd:127.0.0.1:19302/2]: 127.0.0.1:19302/2: Timed out ProduceRequest in flight \
         (after 30012ms, timeout #0)",
    ] {
        assert_eq!(
            classify_log(line),
            Class::Transport("127.0.0.1:19302/2".into()),
            "{line}"
        );
    }
}

#[test]
fn real_errors_stay_errors() {
    let sasl = KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure);
    assert_eq!(
        classify_error(
            &sasl,
            "b1:9092/1: SASL authentication error: Authentication failed"
        ),
        Class::Other
    );
    for code in [
        RDKafkaErrorCode::Authentication,
        RDKafkaErrorCode::Fatal,
        RDKafkaErrorCode::ProducerFenced,
        RDKafkaErrorCode::Fenced,
        RDKafkaErrorCode::SSL,
    ] {
        let e = KafkaError::Global(code);
        assert_eq!(classify_error(&e, "x"), Class::Other, "{code:?}");
    }
    assert_eq!(
        classify_log(
            "b1:9092/1: SSL handshake failed: Disconnected: connecting to a PLAINTEXT port?"
        ),
        Class::Other
    );
    assert_eq!(
        classify_log("Fatal error: Broker: Producer fenced"),
        Class::Other
    );
}

#[test]
fn partition_end_is_not_an_error() {
    let e = KafkaError::Global(RDKafkaErrorCode::PartitionEOF);
    assert_eq!(classify_error(&e, "x"), Class::PartitionEof);
}

#[test]
fn a_broker_warns_once_per_window_and_each_broker_once() {
    let c = QuietContext::new("test");
    let t0 = Instant::now();
    assert!(c.warn_now("b1", t0));
    assert!(!c.warn_now("b1", t0 + Duration::from_secs(1)));
    assert!(!c.warn_now("b1", t0 + REPEAT_WARN - Duration::from_secs(1)));
    assert!(c.warn_now("b2", t0 + Duration::from_secs(2)));
    assert!(c.warn_now("b1", t0 + REPEAT_WARN));
}

/// A live librdkafka consumer whose only broker refuses connections (nothing listens on the
/// port): rdkafka's default context logs ERROR at every retry; this one warns once and logs
/// nothing at ERROR.
#[test]
fn a_client_whose_broker_is_down_logs_no_error() {
    let port = {
        // A port that was free a moment ago: connections to it are refused.
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        l.local_addr().expect("local addr").port()
    };
    let consumer: BaseConsumer<QuietContext> = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("group.id", "kmedic-rdlog-test")
        .set("reconnect.backoff.ms", "10")
        .set("reconnect.backoff.max.ms", "50")
        .create_with_context(QuietContext::new("test consumer"))
        .expect("create a consumer");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let _ = consumer.poll(Duration::from_millis(50));
        let t = consumer.context().tally();
        if t.warned >= 1 && t.quieted >= 3 {
            break;
        }
    }
    let t = consumer.context().tally();
    assert_eq!(t.errors, 0, "{t:?}");
    // One WARN per key: the broker, and perhaps "all brokers" (the same outage, said twice).
    assert!((1..=2).contains(&t.warned), "{t:?}");
    assert!(t.quieted >= 3, "the retries were seen, at DEBUG: {t:?}");
}

/// A transaction or group coordinator still loading (a broker just started or took over the
/// coordinator's partition) is a transient state librdkafka retries by itself: not a WARN an
/// operator has to read at every master start (it showed in every demo run).
#[test]
fn a_coordinator_still_loading_is_a_retry_not_a_warning() {
    for line in [
        "[thrd:main]: Failed to acquire transactional PID from broker TxnCoordinator/5: \
         Broker: Coordinator load in progress: retrying",
        "[thrd:main]: Failed to acquire transactional PID from broker TxnCoordinator/2: \
         Broker: Coordinator not available: retrying",
        "[thrd:main]: Failed to acquire transactional PID from broker TxnCoordinator/2: \
         Broker: Not coordinator: retrying",
    ] {
        assert_eq!(classify_log(line), Class::Retrying, "{line}");
    }
    // Without the retry, or another cause, it stays what it was.
    assert_eq!(
        classify_log("[thrd:main]: Coordinator load in progress"),
        Class::Other
    );
    assert_eq!(
        classify_log("[thrd:main]: Failed to acquire transactional PID: Broker: fenced: retrying"),
        Class::Other
    );
    let ctx = QuietContext::new("action log");
    ctx.log(
        RDKafkaLogLevel::Warning,
        "GETPID",
        "[thrd:main]: Failed to acquire transactional PID from broker TxnCoordinator/5: \
         Broker: Coordinator load in progress: retrying",
    );
    assert_eq!(
        ctx.tally(),
        Tally {
            quieted: 1,
            ..Tally::default()
        },
        "neither a WARN nor an ERROR"
    );
}

/// librdkafka reports a broker's connection closing at INFO, then its reconnect failing at WARN:
/// one event, two lines in the agent's log (seen on a SIGKILLed broker). The INFO one goes to
/// DEBUG; the WARN (once per broker per window) stays the event's line.
#[test]
fn a_disconnect_reported_at_info_is_not_a_second_line() {
    let ctx = QuietContext::new("agent stats producer");
    ctx.log(
        RDKafkaLogLevel::Info,
        "FAIL",
        "[thrd:127.0.0.1:20503/3]: 127.0.0.1:20503/3: Disconnected: connection closed by peer: \
         receive 0 after POLLIN (after 56587ms in state UP)",
    );
    assert_eq!(
        ctx.tally(),
        Tally {
            quieted: 1,
            ..Tally::default()
        }
    );
    ctx.log(
        RDKafkaLogLevel::Warning,
        "FAIL",
        &format!("[thrd:127.0.0.1:19801/bootstrap]: {REFUSED}"),
    );
    assert_eq!(ctx.tally().warned, 1);
}
