//! Configuration: command-line options with environment fallbacks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use whisper_core::Limits;

/// WhisperChat server: real-time chat over WebSocket, with history in SQLite
/// (default) or PostgreSQL.
#[derive(Clone, Debug, Parser)]
#[command(name = "whisper-server", version)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "WHISPER_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Directory for the SQLite database (`whisper.db`) and the server secret
    /// (`secret`). Created if missing.
    #[arg(long, env = "WHISPER_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// PostgreSQL URL (e.g. postgres://user@host/db). When set, history is kept
    /// there instead of the embedded SQLite file.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// NATS server for several nodes (e.g. nats://127.0.0.1:4222): each node
    /// publishes its room events there and receives the others'. All nodes
    /// share one PostgreSQL database and one --secret. Without it the server
    /// is a single node. Needs the `nats` feature (on by default).
    #[arg(long, env = "WHISPER_NATS_URL")]
    pub nats_url: Option<String>,

    /// The NATS subject the nodes of this cluster share; give each cluster
    /// on one NATS server its own.
    #[arg(long, env = "WHISPER_NATS_SUBJECT", default_value = "whisper.rooms")]
    pub nats_subject: String,

    /// Secret that signs identity tokens. Defaults to one generated once and
    /// kept in `<data dir>/secret`, so a restart keeps identities valid. Set it
    /// (the same on every node) when running several nodes.
    #[arg(long, env = "WHISPER_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// This node's name in `welcome` and logs. Defaults to a random one.
    #[arg(long, env = "WHISPER_SERVER_ID")]
    pub server_id: Option<String>,

    /// An Origin allowed to open WebSockets besides the server's own (e.g.
    /// `https://chat.example.com`). Repeat for several, or comma-separate in
    /// the environment variable. Requests without Origin (non-browser
    /// clients) are allowed.
    #[arg(long = "allowed-origin", env = "WHISPER_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Most WebSocket connections open at once from one IP address.
    #[arg(long, env = "WHISPER_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: u32,

    /// Directory of the built web client (`web/dist`) to serve at `/`.
    #[arg(long, env = "WHISPER_WEB_DIR")]
    pub web_dir: Option<PathBuf>,

    /// Seconds between WebSocket pings; a client missing two is closed.
    #[arg(long, env = "WHISPER_HEARTBEAT_SECS", default_value_t = 20)]
    pub heartbeat_secs: u64,

    /// Seconds a client may take to send its HTTP request headers (slow
    /// handshakes are dropped).
    #[arg(long, env = "WHISPER_HANDSHAKE_TIMEOUT_SECS", default_value_t = 10)]
    pub handshake_timeout_secs: u64,

    /// Sustained messages per second per connection.
    #[arg(long, env = "WHISPER_MESSAGES_PER_SECOND", default_value_t = 20)]
    pub messages_per_second: u32,

    /// Messages a connection may send at once before the rate applies.
    #[arg(long, env = "WHISPER_MESSAGE_BURST", default_value_t = 40)]
    pub message_burst: u32,

    /// Frames a connection's outbound queue holds before it is closed as a
    /// slow consumer (1013).
    #[arg(long, env = "WHISPER_OUTBOX_CAPACITY", default_value_t = 1024)]
    pub outbox_capacity: usize,

    /// Seconds to finish in-flight work on SIGINT/SIGTERM before exiting.
    #[arg(long, env = "WHISPER_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
}

impl Config {
    /// The defaults, with `data_dir` and `bind` as given (for tests and
    /// embedding; ignores the environment).
    pub fn new(bind: SocketAddr, data_dir: impl Into<PathBuf>) -> Config {
        let mut config = Config::parse_from(["whisper-server"]);
        config.bind = bind;
        config.data_dir = data_dir.into();
        config.database_url = None;
        config.nats_url = None;
        config.secret = None;
        config.server_id = None;
        config.allowed_origins = Vec::new();
        config.web_dir = None;
        config
    }

    /// The chat limits this configuration sets.
    pub fn limits(&self) -> Limits {
        Limits {
            messages_per_second: self.messages_per_second,
            message_burst: self.message_burst,
            outbox_capacity: self.outbox_capacity,
            heartbeat_interval: (self.heartbeat_secs > 0).then(|| Duration::from_secs(self.heartbeat_secs)),
            ..Limits::default()
        }
    }
}
