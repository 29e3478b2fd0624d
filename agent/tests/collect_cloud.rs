//! IMDSv2 fixture tests against a local axum server: good, slow, absent and wrong endpoints.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::Router;
use kmedic_agent::collect::cloud::fetch;
use kmedic_agent::collect::{Error, ImdsSettings};

const TOKEN: &str = "AQAEAFAKE-TOKEN==";

/// Serves `router` on 127.0.0.1:0 and returns its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn settings(endpoint: String) -> ImdsSettings {
    ImdsSettings {
        enabled: true,
        endpoint,
        timeout_ms: 300,
        token_ttl_secs: 60,
    }
}

async fn token(headers: HeaderMap) -> (StatusCode, String) {
    match headers.get("X-aws-ec2-metadata-token-ttl-seconds") {
        Some(ttl) if ttl == "60" => (StatusCode::OK, TOKEN.to_owned()),
        _ => (StatusCode::BAD_REQUEST, "missing ttl".to_owned()),
    }
}

/// A metadata item that insists on the session token, as IMDSv2-only instances do.
fn item(value: &'static str) -> axum::routing::MethodRouter {
    get(move |headers: HeaderMap| async move {
        match headers.get("X-aws-ec2-metadata-token") {
            Some(t) if t == TOKEN => (StatusCode::OK, value.to_owned()),
            _ => (StatusCode::UNAUTHORIZED, String::new()),
        }
    })
}

/// An IMDSv2 server; `az` and `instance_type` can be replaced to make it misbehave.
fn imds(az: axum::routing::MethodRouter, instance_type: axum::routing::MethodRouter) -> Router {
    Router::new()
        .route("/latest/api/token", put(token))
        .route("/latest/meta-data/placement/availability-zone", az)
        .route("/latest/meta-data/instance-type", instance_type)
        .route(
            "/latest/meta-data/instance-id",
            item("i-0123456789abcdef0\n"),
        )
}

fn good_imds() -> Router {
    imds(item("eu-west-1b"), item("m5.2xlarge"))
}

#[tokio::test]
async fn reads_az_type_and_id_with_a_token() {
    let base = serve(good_imds()).await;
    let id = fetch(&settings(base)).await.unwrap();
    assert_eq!(id.az, "eu-west-1b");
    assert_eq!(id.instance_type, "m5.2xlarge");
    assert_eq!(id.instance_id, "i-0123456789abcdef0");
}

#[tokio::test]
async fn slow_imds_times_out_quickly() {
    let router = imds(
        item("eu-west-1b"),
        get(|| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            "m5.2xlarge"
        }),
    );
    let base = serve(router).await;
    let started = Instant::now();
    let err = fetch(&settings(base)).await.unwrap_err();
    assert!(matches!(err, Error::Http { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn absent_imds_is_an_error_not_a_hang() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let started = Instant::now();
    let err = fetch(&settings(format!("http://{addr}")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Http { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn missing_item_is_an_error() {
    let router = Router::new().route("/latest/api/token", put(token)).route(
        "/latest/meta-data/placement/availability-zone",
        item("eu-west-1b"),
    );
    let base = serve(router).await;
    let err = fetch(&settings(base)).await.unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
}

#[tokio::test]
async fn garbage_is_not_taken_for_an_az() {
    let router = imds(
        get(|| async { "<html><body>Welcome to nginx!</body></html>" }),
        item("m5.2xlarge"),
    );
    let base = serve(router).await;
    let err = fetch(&settings(base)).await.unwrap_err();
    assert!(matches!(err, Error::BadAnswer { .. }), "{err}");
}

#[tokio::test]
async fn no_token_endpoint_is_an_error() {
    // An IMDSv1-only server (or something else entirely): no token, no identity.
    let router = Router::new().route(
        "/latest/meta-data/placement/availability-zone",
        get(|| async { "eu-west-1b" }),
    );
    let base = serve(router).await;
    let err = fetch(&settings(base)).await.unwrap_err();
    assert!(matches!(err, Error::BadAnswer { .. }), "{err}");
    assert!(err.to_string().contains("token"), "{err}");
}

#[tokio::test]
async fn disabled_asks_nothing() {
    let mut s = settings("http://127.0.0.1:1".into());
    s.enabled = false;
    assert!(matches!(fetch(&s).await, Err(Error::Disabled(_))));
}
