//! The real-Kafka testbed harness for kmedic's end-to-end tests.
//!
//! - `config`: [`TestbedConfig`] (size, ports, racks, heaps).
//! - `testbed`: [`Testbed::start`], accessors, readiness and cleanup on drop.
//! - `control`: kill, hang, resume, stop, restart, replace, wait_healthy.
//! - `data`: create topics and produce real records.
//! - `format`: formatting node storage with Kafka's StorageTool.
//! - `cds`: class-data sharing archive for faster, cheaper JVM starts.
//! - `kafka_files`: jars, java command line, server.properties, log4j2 config.
//! - `process`: the spawner thread (PR_SET_PDEATHSIG), signals, /proc state.
//! - `client`: the rdkafka calls the harness makes.
//! - `e2e`: the shared context of the one e2e test binary ([`e2e::Ctx`]).
//! - `state`: the JSON state file `deploy/testbed` reads.
//! - `product`: the built agent and master binaries as processes, their JSON logs, a webhook
//!   receiver and an API client, for trials of the product.

mod cds;
mod client;
mod config;
mod control;
mod data;
pub mod e2e;
mod error;
mod format;
mod kafka_files;
mod process;
pub mod product;
pub mod state;
mod testbed;
mod wait;

pub use cds::CDS_ENV;
pub use client::{metadata, MetadataView, PartitionView};
pub use config::{TestbedConfig, CONTROLLER_ID, DEFAULT_PORT_BASE, PORT_BASE_ENV};
pub use error::{Error, Result};
pub use kafka_files::{ensure_jars, jars_dir, JVM_OPTS_ENV, KAFKA_DIR_ENV};
pub use process::{process_alive, process_state, OwnedChild};
pub use testbed::Testbed;
pub use wait::{random_topic, wait_until};

/// Logs to stderr for the harness's binaries and the e2e runner: `RUST_LOG` if set, else
/// `default_filter`; colours only on a terminal.
pub fn init_logs(default_filter: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
