//! `whisper-server`: parse the configuration, log, listen, run until a signal.

use anyhow::Context as _;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use whisper_server::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let listener =
        tokio::net::TcpListener::bind(config.bind).await.with_context(|| format!("binding {}", config.bind))?;
    let store = if config.database_url.is_some() { "PostgreSQL" } else { "SQLite" };
    tracing::info!(address = %listener.local_addr()?, store, "WhisperChat listening on http://{}", listener.local_addr()?);
    whisper_server::run(listener, config, whisper_server::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}
