//! The web UI: plain HTML, CSS and JavaScript embedded in the binary (no build chain). The pages
//! fetch the same JSON API an operator's scripts use, so what they show is what the API says.

use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::Shared;

const INDEX: &str = include_str!("ui/index.html");
const APP_JS: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/style.css");

/// The UI routes: `/` (one page; the hash selects the view) and its assets.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(|| async { html(INDEX) }))
        .route(
            "/ui/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/ui/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

fn html(body: &'static str) -> impl IntoResponse {
    asset("text/html; charset=utf-8", body)
}

fn asset(kind: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
