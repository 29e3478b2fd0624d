//! [`AdminClient`]: bootstrap, routing, connection reuse and retries. The operations live in
//! `ops_*.rs` files as further `impl AdminClient` blocks.
//!
//! Routing in KRaft (Kafka 4.x), as the Java admin client does it:
//! - [`Route::Any`]: reads (Metadata, DescribeCluster) and writes that brokers forward to the
//!   active controller (topic configs, UnregisterBroker);
//! - [`Route::Controller`]: the broker Metadata names as controller. In KRaft that is a live
//!   broker picked by the brokers, not the real controller; it forwards. Used for
//!   AlterPartitionReassignments, ListPartitionReassignments and ElectLeaders, so that a
//!   NOT_CONTROLLER answer triggers a metadata refresh and a retry;
//! - [`Route::Broker`]: one named broker (DescribeLogDirs, and DescribeConfigs and
//!   IncrementalAlterConfigs on a BROKER resource, which a broker only accepts for itself).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::protocol::Request;

use super::conn::{api_name, Connection};
use super::error::{Error, Result};
use super::transport::{BoxStream, Dialer};
use crate::backoff;
use crate::connection::ConnectionSettings;

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// Any reachable broker (the bootstrap connection when it is healthy).
    Any,
    /// The broker that Metadata names as controller (see the module docs for KRaft).
    Controller,
    /// This broker id.
    Broker(i32),
}

/// A broker's address as Metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Addr {
    host: String,
    port: i32,
}

#[derive(Default)]
struct State {
    brokers: HashMap<i32, Addr>,
    controller_id: Option<i32>,
    // Key None: the "any broker" connection (bootstrap); Some(id): that broker.
    conns: HashMap<Option<i32>, Arc<Connection<BoxStream>>>,
}

/// A Kafka admin client for one cluster. Cheap to share behind an `Arc`; methods take `&self`.
pub struct AdminClient {
    dialer: Dialer,
    // A std mutex: held only to read or swap map entries, never across an await.
    state: Mutex<State>,
}

impl AdminClient {
    /// Validates the settings and builds the client. Connections open lazily, on first use.
    pub fn new(settings: ConnectionSettings) -> Result<Self> {
        settings.validate()?;
        Ok(Self {
            dialer: Dialer::new(settings)?,
            state: Mutex::new(State::default()),
        })
    }

    /// The settings this client was built with.
    pub fn settings(&self) -> &ConnectionSettings {
        &self.dialer.settings
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves only caches behind; keep using them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers brokers and the controller-facing broker from a Metadata response.
    pub(crate) fn learn_brokers(
        &self,
        brokers: impl IntoIterator<Item = (i32, String, i32)>,
        controller: Option<i32>,
    ) {
        let mut st = self.state();
        st.brokers = brokers
            .into_iter()
            .map(|(id, host, port)| (id, Addr { host, port }))
            .collect();
        st.controller_id = controller;
    }

    fn forget_controller(&self) {
        self.state().controller_id = None;
    }

    /// Drops what we know of a broker we could not reach, so the next attempt refreshes
    /// metadata first: once the broker is fenced it is absent there, and the call fails fast
    /// with [`Error::UnknownBroker`] instead of retrying a dead host until the deadline
    /// (DESIGN.md rule 9: removing a throttle must not hang on a dead broker).
    fn forget_broker(&self, id: i32) {
        let mut st = self.state();
        st.brokers.remove(&id);
        st.conns.remove(&Some(id));
    }

    /// A healthy connection for `route`, opening one if needed.
    async fn connection(
        &self,
        route: Route,
        timeout: Duration,
    ) -> Result<Arc<Connection<BoxStream>>> {
        let id = match route {
            Route::Any => None,
            Route::Broker(id) => Some(id),
            Route::Controller => {
                let known = self.state().controller_id;
                match known {
                    Some(id) => Some(id),
                    None => {
                        self.refresh_metadata(timeout).await?;
                        let id = self.state().controller_id;
                        Some(id.ok_or_else(|| Error::Kafka {
                            api: "Metadata",
                            broker: "cluster".into(),
                            resource: "controller".into(),
                            error: ResponseError::NotController,
                            code: ResponseError::NotController.code(),
                            message: Some("metadata names no controller".into()),
                        })?)
                    }
                }
            }
        };
        let Some(id) = id else {
            return self.any_connection(timeout).await;
        };
        if let Some(c) = self.state().conns.get(&Some(id)) {
            if c.is_healthy() {
                return Ok(c.clone());
            }
        }
        let mut addr = self.state().brokers.get(&id).cloned();
        if addr.is_none() {
            self.refresh_metadata(timeout).await?;
            addr = self.state().brokers.get(&id).cloned();
        }
        let addr = addr.ok_or(Error::UnknownBroker { id })?;
        let hp = format!("{}:{}", addr.host, addr.port);
        let conn = Arc::new(
            self.dialer
                .connect(&hp, format!("{id}@{hp}"), timeout)
                .await?,
        );
        self.state().conns.insert(Some(id), conn.clone());
        Ok(conn)
    }

    /// The "any broker" connection: reused while healthy, else bootstrap with fallback.
    pub(crate) async fn any_connection(
        &self,
        timeout: Duration,
    ) -> Result<Arc<Connection<BoxStream>>> {
        if let Some(c) = self.state().conns.get(&None) {
            if c.is_healthy() {
                return Ok(c.clone());
            }
        }
        let conn = Arc::new(self.connect_any(timeout).await?);
        self.state().conns.insert(None, conn.clone());
        Ok(conn)
    }

    /// Tries the bootstrap servers in order, then the brokers Metadata listed, and returns the
    /// first that connects and negotiates. Each failure is kept for the error.
    async fn connect_any(&self, timeout: Duration) -> Result<Connection<BoxStream>> {
        let mut candidates: Vec<String> = self.dialer.settings.bootstrap_servers.clone();
        let known: Vec<String> = {
            let st = self.state();
            let mut v: Vec<_> = st.brokers.iter().collect();
            v.sort_by_key(|(id, _)| **id);
            v.into_iter()
                .map(|(_, a)| format!("{}:{}", a.host, a.port))
                .collect()
        };
        for k in known {
            if !candidates.contains(&k) {
                candidates.push(k);
            }
        }
        let mut attempts = Vec::new();
        for addr in candidates {
            match self
                .dialer
                .connect(&addr, format!("bootstrap {addr}"), timeout)
                .await
            {
                Ok(c) => {
                    if !attempts.is_empty() {
                        tracing::info!(%addr, skipped = ?attempts, "connected after skipping unreachable addresses");
                    }
                    return Ok(c);
                }
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "bootstrap address unusable; trying the next");
                    attempts.push(format!("{addr}: {e}"));
                }
            }
        }
        Err(Error::NoBrokerReachable { attempts })
    }

    /// Forgets routing facts a failure proved stale.
    fn after_failure(&self, route: Route, e: &Error) {
        if e.kafka_error() == Some(ResponseError::NotController) {
            self.forget_controller();
        }
        let unreachable = matches!(e, Error::Io { .. } | Error::Timeout { .. });
        match route {
            Route::Broker(id) if unreachable => self.forget_broker(id),
            Route::Controller if unreachable => {
                // Read the id in its own statement: a guard taken in an `if let` scrutinee
                // lives through the block, forget_broker locks again, and a std mutex then
                // blocks this runtime thread forever (seen as a master stall after SIGSTOP).
                let controller = self.state().controller_id;
                if let Some(id) = controller {
                    self.forget_broker(id);
                }
                self.forget_controller();
            }
            _ => {}
        }
    }

    /// Sends `build(conn)` on `route`, decodes with `check`, and retries retriable failures
    /// through [`backoff::retry`] within the settings' deadline. Each attempt gets at most the
    /// request timeout.
    pub(crate) async fn call<R, T>(
        &self,
        route: Route,
        build: impl Fn(&Connection<BoxStream>) -> Result<R>,
        check: impl Fn(R::Response, &str) -> Result<T>,
    ) -> Result<T>
    where
        R: Request,
    {
        let api = api_name(R::KEY);
        let per_request = self.dialer.settings.request_timeout();
        let what = format!("{api} via {route:?}");
        backoff::retry(
            &what,
            &self.dialer.settings.retry,
            |left| {
                let timeout = per_request.min(left).max(Duration::from_millis(1));
                let build = &build;
                let check = &check;
                async move {
                    let attempt = async {
                        let conn = self.connection(route, timeout).await?;
                        let req = build(&conn)?;
                        let resp = conn.send(&req, timeout).await?;
                        check(resp, conn.broker())
                    };
                    // Bootstrap may try several addresses, each with its own timeout: bound the
                    // whole attempt by what is left, so the deadline is a wall-clock promise.
                    let left = left.max(Duration::from_millis(1));
                    let out = tokio::time::timeout(left, attempt)
                        .await
                        .unwrap_or_else(|_| {
                            Err(Error::Timeout {
                                what: api,
                                broker: format!("{route:?}"),
                                timeout_ms: left.as_millis() as u64,
                            })
                        });
                    if let Err(e) = &out {
                        self.after_failure(route, e);
                    }
                    out
                }
            },
            Error::is_retriable,
        )
        .await
    }
}

/// Times one ApiVersions round trip to `addr` over PLAINTEXT: connect, negotiate, nothing else
/// (no bootstrap, no metadata). The agent uses it to probe its local broker.
pub async fn api_versions_probe(addr: &str, timeout: Duration) -> Result<Duration> {
    api_versions_probe_with(&ConnectionSettings::plaintext([addr]), addr, timeout).await
}

/// [`api_versions_probe`] with the given settings' transport (TCP or TLS). SASL is skipped:
/// brokers answer ApiVersions before authentication.
pub async fn api_versions_probe_with(
    settings: &ConnectionSettings,
    addr: &str,
    timeout: Duration,
) -> Result<Duration> {
    let dialer = Dialer::new(settings.clone())?;
    let started = tokio::time::Instant::now();
    let label = format!("probe {addr}");
    let attempt = async {
        let stream = dialer.stream(addr, &label, timeout).await?;
        Connection::negotiate(
            stream,
            label.clone(),
            &settings.client_id,
            settings.max_response_bytes,
            timeout,
        )
        .await
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(_conn)) => Ok(started.elapsed()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::Timeout {
            what: "ApiVersions probe",
            broker: label,
            timeout_ms: timeout.as_millis() as u64,
        }),
    }
}
