//! `whisper-server`: parse the configuration, log, listen, run until a signal.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use whisper_server::Config;

#[tokio::main]
async fn main() -> ExitCode {
    match run(Config::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line with the whole cause chain: a configuration mistake
            // is not a crash, so no backtrace even under RUST_BACKTRACE=1.
            eprintln!("whisper-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        // Colours for a person at a terminal; plain text for a log file or journald.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let listener =
        tokio::net::TcpListener::bind(config.bind).await.with_context(|| format!("binding {}", config.bind))?;
    let address = listener.local_addr()?;
    let store = if config.database_url.is_some() { "PostgreSQL" } else { "SQLite" };
    let nodes = if config.nats_url.is_some() { "cluster over NATS" } else { "single node" };
    let server = whisper_server::Server::build(config).await?;
    tracing::info!(%address, store, nodes, "WhisperChat listening on http://{address}");
    server.run(listener, whisper_server::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}
