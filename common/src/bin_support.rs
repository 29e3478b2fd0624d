//! What the agent's and the master's `main.rs` share: the `--log-format` flag, the tracing
//! set-up behind it, and the SIGINT/SIGTERM shutdown future. Behind the `bin` feature, so the
//! client library does not pull in clap or tracing-subscriber.

/// Log format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines; colour only on a terminal.
    Text,
    /// One JSON object a line, for log shippers.
    Json,
}

/// Installs the global tracing subscriber on stderr. `RUST_LOG` wins over `default_filter`.
pub fn init_logs(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Colours only on a terminal: journald and log files get plain text.
        LogFormat::Text => b
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => b.json().flatten_event(true).with_current_span(false).init(),
    }
}

/// Completes at the first Ctrl-C (SIGINT) or, on Unix, SIGTERM. If the SIGTERM handler cannot
/// be installed, Ctrl-C alone still works.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
