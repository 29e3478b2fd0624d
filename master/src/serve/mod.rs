//! The master's HTTP server: REST API (`/api/...`), web UI (`/`), Prometheus `/metrics`.
//!
//! It reads the per-cluster status boards (`service::board`) and the model; it changes nothing
//! itself. Mutations are validated here, need the bearer token (`[serve]` config), and are sent
//! as [`Command`]s to the cluster's loop, which applies them between rounds.
//!
//! - [`api`]: read-only JSON endpoints; [`mutate`]: the mutations and manual plan requests;
//! - [`figures`]: broker, topic and partition rows computed from a board;
//! - [`metrics`]: `/metrics`; [`ui`]: the embedded pages; `openapi.json`: the API document.

pub mod actions;
pub mod api;
pub mod broker_history;
pub mod controls;
pub mod figures;
pub mod metrics;
pub mod mutate;
pub mod ui;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio::sync::{mpsc, watch};

use crate::config::{MasterConfig, NetworkLimits};
use crate::ingest::Ingest;
use crate::model::Fleet;
use crate::plan::{Limits, Plan, Request};
use crate::service::{Board, Boards};

pub use controls::{Approved, Command, Controls};

/// How many commands may wait for a cluster's loop; beyond that a mutation is refused (503).
const COMMAND_QUEUE: usize = 64;
/// Manual plan proposals kept per cluster (the oldest is dropped).
const PROPOSALS_KEPT: usize = 16;

/// A proposal made by `POST /api/clusters/{c}/plans`, waiting for approval.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// Id.
    pub id: u64,
    /// What was asked.
    pub request: Request,
    /// The plan made.
    pub plan: Plan,
    /// The board round it was planned on.
    pub round: u64,
    /// Whether it was approved.
    pub approved: bool,
}

/// One cluster as the server sees it.
#[derive(Debug)]
pub struct ClusterHandle {
    /// Its board.
    pub board: watch::Receiver<Board>,
    /// The operator controls (what `GET` answers).
    pub controls: Mutex<Controls>,
    /// Commands to its loop.
    pub commands: mpsc::Sender<Command>,
    /// Its network limits.
    pub limits: NetworkLimits,
    /// Its planner limits.
    pub planner: Limits,
    /// Where its clients run, for the cross-AZ report (`xaz.rs`).
    pub cross_az: crate::xaz::ClientAzConfig,
    /// Manual plan proposals, oldest first.
    pub proposals: Mutex<Vec<Proposal>>,
    /// Its Kafka cluster id as known at start (config or learned), for the action history
    /// when no view has been observed yet.
    pub cluster_id: Mutex<Option<String>>,
}

/// What every handler shares.
#[derive(Debug)]
pub struct Shared {
    /// Clusters by configured name.
    pub clusters: BTreeMap<String, ClusterHandle>,
    /// The mutation token; `None`: mutations refused.
    pub token: Option<String>,
    /// The model (agents' figures, demand); `None` in tests without one.
    pub fleet: Option<Fleet>,
    /// The stats ingest (its counters, for `/metrics`).
    pub ingest: Option<Arc<Ingest>>,
    /// The Prometheus registry.
    pub metrics: metrics::Metrics,
    /// The action history, once the action log is open and read back (unset: no action log).
    pub actions: std::sync::OnceLock<crate::actionlog::ActionHistory>,
    next_proposal: std::sync::atomic::AtomicU64,
}

/// The server (cheap to clone).
#[derive(Debug, Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

/// The command receivers, one per cluster, for the cluster loops.
pub type Receivers = BTreeMap<String, mpsc::Receiver<Command>>;

impl Server {
    /// A server over `boards` for the clusters of `cfg`, with `token` for mutations. Returns the
    /// command receiver of each cluster: the loops must drain them.
    pub fn new(
        boards: &Boards,
        cfg: &MasterConfig,
        token: Option<String>,
        fleet: Option<Fleet>,
        ingest: Option<Arc<Ingest>>,
    ) -> (Self, Receivers) {
        let mut clusters = BTreeMap::new();
        let mut receivers = BTreeMap::new();
        for c in &cfg.clusters {
            let Some(board) = boards.subscribe(&c.name) else {
                continue;
            };
            let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
            receivers.insert(c.name.clone(), rx);
            clusters.insert(
                c.name.clone(),
                ClusterHandle {
                    board,
                    controls: Mutex::new(Controls::from_config(&c.policy)),
                    commands: tx,
                    limits: c.limits.clone(),
                    planner: c.planner.clone(),
                    cross_az: c.cross_az.clone(),
                    proposals: Mutex::new(Vec::new()),
                    cluster_id: Mutex::new(c.cluster_id.clone()),
                },
            );
        }
        let metrics = metrics::Metrics::new();
        let shared = Shared {
            clusters,
            token,
            fleet,
            ingest,
            metrics,
            actions: std::sync::OnceLock::new(),
            next_proposal: std::sync::atomic::AtomicU64::new(1),
        };
        (
            Self {
                shared: Arc::new(shared),
            },
            receivers,
        )
    }

    /// Serves `history` at `/api/clusters/{c}/actions` (the action log's in-memory copy).
    /// Only the first call counts.
    pub fn attach_actions(&self, history: crate::actionlog::ActionHistory) {
        let _ = self.shared.actions.set(history);
    }

    /// What the cluster loop restored at start: the modes in effect (config OR action log, as
    /// the loop applies them), and whether mode changes are recorded in the action log
    /// (`persisted`; false when there is no action log or the cluster id is unknown).
    pub fn restore_controls(
        &self,
        cluster: &str,
        cluster_id: Option<&str>,
        restored: Option<&crate::actionlog::ClusterState>,
        persisted: bool,
    ) {
        let Some(h) = self.shared.clusters.get(cluster) else {
            return;
        };
        if let Some(id) = cluster_id {
            *lock(&h.cluster_id) = Some(id.to_string());
        }
        let mut c = lock(&h.controls);
        if let Some(st) = restored {
            c.maintenance |= st.maintenance == Some(true);
            c.dry_run |= st.dry_run == Some(true);
            // The override is the log's last word, else the config (as the loop restores it).
            c.mass_failure_override = st.mass_failure_override.unwrap_or(c.mass_failure_override);
            c.decommission.extend(st.decommissioning.iter().copied());
        }
        c.persisted = persisted;
    }

    /// The state handlers share.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The API's routes as (method, path), as registered: what `openapi.json` must list.
    pub fn api_routes() -> Vec<(&'static str, &'static str)> {
        mutate::routes(api::routes(Routes::default())).listed
    }

    /// Every route: API, UI, metrics.
    pub fn router(&self) -> axum::Router {
        mutate::routes(api::routes(Routes::default()))
            .router
            .merge(ui::routes())
            .route("/metrics", axum::routing::get(metrics::handler))
            .fallback(|| async { ApiError::not_found("no such path; see /api/openapi.json") })
            .with_state(self.shared.clone())
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// What the service needs to serve: the server bound to its address, and the command receivers
/// for the cluster loops. `Ok(None)` when `[serve] enabled = false` or the address is taken
/// (logged as an error; the loops then get no commands). `Err` for a bad token setting.
pub async fn start(
    cfg: &MasterConfig,
    boards: &Boards,
    fleet: &Fleet,
    ingest: &Arc<Ingest>,
) -> Result<Option<(Server, tokio::net::TcpListener, Receivers)>, String> {
    if !cfg.serve.enabled {
        tracing::info!("HTTP server off (serve.enabled = false): no API, UI or /metrics");
        return Ok(None);
    }
    let token = cfg.serve.resolve_token()?;
    // A port in use must not stop the master from healing: it runs on without its HTTP server,
    // and says so loudly.
    let listener = match tokio::net::TcpListener::bind(cfg.serve.bind).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(bind = %cfg.serve.bind, error = %e,
                "HTTP server NOT started (no API, UI or /metrics; the master runs on): cannot \
                 listen on serve.bind; pick a free port or set serve.enabled = false");
            return Ok(None);
        }
    };
    let (server, rx) = Server::new(
        boards,
        cfg,
        token.clone(),
        Some(fleet.clone()),
        Some(ingest.clone()),
    );
    let addr = listener
        .local_addr()
        .map_or_else(|_| cfg.serve.bind.to_string(), |a| a.to_string());
    tracing::info!(
        %addr,
        mutations = if token.is_some() { "need the bearer token" } else { "off (no serve.token_file)" },
        "HTTP server listening: UI /, API /api (see /api/openapi.json), /metrics"
    );
    Ok(Some((server, listener, rx)))
}

/// Waits for the next command of `rx`; never resolves when there is no receiver.
pub async fn next_command(rx: &mut Option<mpsc::Receiver<Command>>) -> Command {
    match rx {
        Some(r) => match r.recv().await {
            Some(c) => c,
            None => {
                *rx = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

impl Shared {
    /// The cluster named `name`, or a 404 naming the clusters there are.
    pub fn cluster(&self, name: &str) -> Result<&ClusterHandle, ApiError> {
        self.clusters.get(name).ok_or_else(|| {
            ApiError::not_found(format!(
                "no cluster {name:?}; clusters: {}",
                crate::text::list(self.clusters.keys())
            ))
        })
    }

    /// The next proposal id.
    pub fn proposal_id(&self) -> u64 {
        self.next_proposal
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

impl ClusterHandle {
    /// Keeps `p`, dropping the oldest beyond [`PROPOSALS_KEPT`].
    pub fn keep(&self, p: Proposal) {
        let mut ps = lock(&self.proposals);
        ps.push(p);
        let excess = ps.len().saturating_sub(PROPOSALS_KEPT);
        ps.drain(..excess);
    }
}

/// A router that remembers what it registered (for the OpenAPI check).
#[derive(Default)]
pub struct Routes {
    router: axum::Router<Arc<Shared>>,
    listed: Vec<(&'static str, &'static str)>,
}

macro_rules! method {
    ($name:ident, $upper:literal) => {
        #[doc = concat!("Registers `", $upper, " path`.")]
        pub fn $name<H, T>(mut self, path: &'static str, h: H) -> Self
        where
            H: axum::handler::Handler<T, Arc<Shared>>,
            T: 'static,
        {
            self.router = self.router.route(path, axum::routing::$name(h));
            self.listed.push(($upper, path));
            self
        }
    };
}

impl Routes {
    method!(get, "GET");
    method!(put, "PUT");
    method!(post, "POST");
    method!(delete, "DELETE");
}

/// Locks a std mutex, ignoring poisoning (the data is plain values, never half-written).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An error answer: a status and a JSON body `{"error": <status text>, "message": <why>}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong and how to fix it.
    pub message: String,
}

impl ApiError {
    /// A 400.
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, m)
    }
    /// A 404.
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, m)
    }
    /// Any status.
    pub fn new(status: StatusCode, m: impl Into<String>) -> Self {
        Self {
            status,
            message: m.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.status.canonical_reason().unwrap_or("error"),
            "message": self.message,
        });
        (self.status, Json(body)).into_response()
    }
}

/// Checks the bearer token of a mutation: 401 when missing or wrong, 403 when the master has
/// no token configured (mutations are off).
pub fn authorize(shared: &Shared, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &shared.token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "mutations are disabled: this master has no API token; set serve.token_file (or \
             serve.token) in its config",
        ));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing token: send `Authorization: Bearer <token>` (serve.token_file)",
        )),
        Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong token: nothing was changed",
        )),
    }
}

/// Compares without an early exit, so the time taken does not tell how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
