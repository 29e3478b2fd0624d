//! Headless Chromium for the UI tests (`serve_browser`, `serve_e2e`): which binary, its command
//! line, where screenshots go, and reading the rendered figures (the `data-k` / `data-v`
//! attributes) back out of the DOM. Running it stays with each test: `serve_browser` awaits it
//! on its runtime, `serve_e2e` blocks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `KMEDIC_CHROMIUM`, else the first of chromium, chromium-browser, google-chrome that runs.
pub fn binary() -> String {
    if let Ok(c) = std::env::var("KMEDIC_CHROMIUM") {
        return c;
    }
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c.to_string();
        }
    }
    panic!(
        "no headless Chromium: install Debian's `chromium` (`apt-get install -y chromium`, as \
         .ci/run does) or set KMEDIC_CHROMIUM"
    );
}

/// The flags of one headless run on `url`, with a fresh profile in `profile` and `extra` flags
/// (`--dump-dom`, `--screenshot=...`).
pub fn args(url: &str, extra: &[String], profile: &Path) -> Vec<String> {
    let mut a: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        "--virtual-time-budget=4000",
    ]
    .map(String::from)
    .to_vec();
    a.push(format!("--user-data-dir={}", profile.display()));
    a.extend_from_slice(extra);
    a.push(url.to_string());
    a
}

/// `target/ui-screenshots/` (artifacts, not committed), created.
pub fn shots_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    std::fs::create_dir_all(&d).expect("screenshot dir");
    d
}

/// The flags that save a screenshot of the page to `shot`.
pub fn screenshot_args(shot: &Path) -> Vec<String> {
    vec![
        format!("--screenshot={}", shot.display()),
        "--window-size=1400,1500".to_string(),
    ]
}

/// The element opened by the first `<... {attr}="{val}"`, up to its closing tag `</{tag}>`.
pub fn element<'a>(dom: &'a str, attr: &str, val: &str, tag: &str) -> &'a str {
    let needle = format!("{attr}=\"{val}\"");
    let i = dom
        .find(&needle)
        .unwrap_or_else(|| panic!("no {needle} in the page"));
    let end = dom[i..]
        .find(&format!("</{tag}>"))
        .map_or(dom.len(), |j| i + j);
    &dom[i..end]
}

/// The `data-v` of the first `data-k="{k}"` in `html`.
pub fn value(html: &str, k: &str) -> String {
    let needle = format!("data-k=\"{k}\" data-v=\"");
    let i = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no figure {k} in {html}"))
        + needle.len();
    let end = html[i..].find('"').map_or(html.len(), |j| i + j);
    html[i..end].to_string()
}
