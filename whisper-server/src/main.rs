//! `whisper-server`: the WhisperChat server binary.
//!
//! The HTTP and WebSocket server lands in the next milestone; until then this
//! binary checks its configuration and says so.

use clap::Parser;

/// WhisperChat server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "WHISPER_BIND", default_value = "127.0.0.1:8080")]
    bind: std::net::SocketAddr,
    /// Directory for the SQLite database and the server secret.
    #[arg(long, env = "WHISPER_DATA_DIR", default_value = "./data")]
    data_dir: std::path::PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::bail!("whisper-server is a skeleton: the HTTP server for {} is not built yet", args.bind)
}
