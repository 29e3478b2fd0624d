//! A minimal HTTPS POST for webhooks: one request per connection (`Connection: close`), TLS by
//! tokio-rustls with the admin client's rustls configuration (ring provider, webpki roots or
//! `alert.ca_file`). Kept apart from reqwest on purpose: a TLS feature on reqwest would be
//! unified into every crate of the workspace and make their plain clients panic.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;

/// Most bytes of the response read (the status line is all that matters).
const MAX_RESPONSE: usize = 64 * 1024;

/// POSTs `body` (JSON) to the https `url`; returns the HTTP status code. Errors are sentences.
pub async fn post(tls: &Arc<ClientConfig>, url: &str, body: &str) -> Result<u16, String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
    if u.scheme() != "https" {
        return Err(format!("not an https URL: {url}"));
    }
    let host = u.host_str().ok_or("URL without a host")?.to_string();
    let port = u.port_or_known_default().unwrap_or(443);
    let mut target = u.path().to_string();
    if let Some(q) = u.query() {
        target.push('?');
        target.push_str(q);
    }
    let host_header = match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
        .map_err(|e| format!("bad server name {host:?}: {e}"))?;
    let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("connect {host}:{port}: {e}"))?;
    let mut stream = TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS with {host}:{port}: {e}"))?;
    let request = format!(
        "POST {target} HTTP/1.1\r\nHost: {host_header}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\nUser-Agent: kmedic\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    stream.flush().await.map_err(|e| format!("send: {e}"))?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read until the status line is complete (or the server closes).
    while !response.windows(2).any(|w| w == b"\r\n") && response.len() < MAX_RESPONSE {
        match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("read the response: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&response);
    let status = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| {
            format!(
                "no HTTP status line in the response ({} bytes)",
                response.len()
            )
        })?;
    Ok(status)
}
