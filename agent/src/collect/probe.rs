//! The timed ApiVersions round trip to the local broker: connect, negotiate versions, nothing
//! else. A broker whose JVM is stopped (SIGSTOP) still accepts TCP connections in the kernel, so a
//! connect alone would call a hung broker healthy; the ApiVersions answer needs the broker's
//! network threads.

use std::time::Duration;

use kmedic_common::admin::{api_versions_probe, api_versions_probe_with};
use kmedic_common::connection::ConnectionSettings;
use kmedic_common::stats::Probe;

/// Probes the broker at `addr` (`host:port`) with `settings`' transport (TLS if configured), or
/// PLAINTEXT when `settings` is `None`.
pub async fn probe(addr: &str, settings: Option<&ConnectionSettings>, timeout: Duration) -> Probe {
    let outcome = match settings {
        Some(s) => api_versions_probe_with(s, addr, timeout).await,
        None => api_versions_probe(addr, timeout).await,
    };
    match outcome {
        Ok(latency) => Probe::Ok {
            latency_us: latency.as_micros().min(u128::from(u64::MAX)) as u64,
        },
        Err(e) => {
            tracing::debug!(addr, error = %e, "ApiVersions probe of the local broker failed");
            Probe::Failed {
                error: e.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_connection_is_a_failed_probe() {
        // Bind then drop, so the port is very likely closed.
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        match probe(&addr, None, Duration::from_millis(500)).await {
            Probe::Failed { error } => assert!(!error.is_empty()),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_silent_broker_times_out() {
        // Accepts TCP (as the kernel does for a SIGSTOPped JVM) but never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let keep = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let started = std::time::Instant::now();
        let outcome = probe(&addr, None, Duration::from_millis(300)).await;
        assert!(matches!(outcome, Probe::Failed { .. }), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        keep.abort();
    }
}
