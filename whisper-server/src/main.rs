//! `whisper-server`: parse the command line (with environment fallbacks) into
//! a [`Config`], log, listen, run until a signal.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use whisper_server::client_addr::IpRange;
use whisper_server::{Config, Server};

#[tokio::main]
async fn main() -> ExitCode {
    // A bad option or variable is clap's usage error (exit status 2).
    let config = Config::from(Cli::parse());
    match run(config).await {
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
    let server = Server::builder(config).build().await?;
    tracing::info!(%address, store, nodes, "WhisperChat listening on http://{address}");
    server.run(listener, whisper_server::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// WhisperChat server: real-time chat over WebSocket, with history in SQLite
/// (default) or PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "whisper-server", version)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "WHISPER_BIND", default_value_t = Config::DEFAULT_BIND)]
    bind: SocketAddr,

    /// Directory for the SQLite database (`whisper.db`) and the server secret
    /// (`secret`). Created if missing.
    #[arg(long, env = "WHISPER_DATA_DIR", default_value = Config::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,

    /// PostgreSQL URL (e.g. postgres://user@host/db). When set, history is kept
    /// there instead of the embedded SQLite file.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,

    /// NATS server for several nodes (e.g. nats://127.0.0.1:4222): each node
    /// publishes its room events there and receives the others'. All nodes
    /// share one PostgreSQL database and one --secret. Without it the server
    /// is a single node. Needs the `nats` feature (on by default).
    #[arg(long, env = "WHISPER_NATS_URL")]
    nats_url: Option<String>,

    /// The NATS subject the nodes of this cluster share; give each cluster
    /// on one NATS server its own.
    #[arg(long, env = "WHISPER_NATS_SUBJECT", default_value = Config::DEFAULT_NATS_SUBJECT)]
    nats_subject: String,

    /// Secret that signs identity tokens. Defaults to one generated once and
    /// kept in `<data dir>/secret`, so a restart keeps identities valid. Set it
    /// (the same on every node) when running several nodes: at least 32
    /// bytes, e.g. `openssl rand -hex 32`; a weaker one is refused.
    #[arg(long, env = "WHISPER_SECRET", hide_env_values = true)]
    secret: Option<String>,

    /// Accept JWTs your application issues, signed HS256 with this secret
    /// (at least 32 bytes): `sub`, `name` and `exp` required; `Authorization:
    /// Bearer` or `?token=`.
    #[arg(long, env = "WHISPER_JWT_SECRET", hide_env_values = true, conflicts_with = "jwt_public_key")]
    jwt_secret: Option<String>,

    /// Accept JWTs signed by the private half of this PEM public key: RS256,
    /// ES256 or EdDSA, told by the key.
    #[arg(long, env = "WHISPER_JWT_PUBLIC_KEY")]
    jwt_public_key: Option<PathBuf>,

    /// This node's name in `welcome` and logs. Defaults to a random one.
    #[arg(long, env = "WHISPER_SERVER_ID")]
    server_id: Option<String>,

    /// An Origin allowed to open WebSockets besides the server's own (e.g.
    /// `https://chat.example.com`). Repeat for several, or comma-separate in
    /// the environment variable. Requests without Origin (non-browser
    /// clients) are allowed.
    #[arg(long = "allowed-origin", env = "WHISPER_ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Vec<String>,

    /// The origin browsers reach this server at (e.g.
    /// `https://chat.example.com`). When set, a browser's Origin must be it
    /// (or an --allowed-origin); the Host header is not trusted, so a DNS
    /// rebinding page cannot pass for the server.
    #[arg(long, env = "WHISPER_PUBLIC_ORIGIN")]
    public_origin: Option<String>,

    /// Most TCP connections (HTTP and WebSocket) open at once from one IP
    /// address (an IPv6 address by its /64).
    #[arg(long, env = "WHISPER_MAX_CONNECTIONS_PER_IP", default_value_t = Config::DEFAULT_MAX_CONNECTIONS_PER_IP)]
    max_connections_per_ip: u32,

    /// Most TCP connections open at once; over it, 503. Defaults to the file
    /// descriptor limit (raised to the hard limit at start) minus a margin.
    #[arg(long, env = "WHISPER_MAX_CONNECTIONS")]
    max_connections: Option<usize>,

    /// A load balancer or proxy (IP or CIDR, e.g. 10.0.0.0/8) whose
    /// X-Forwarded-For or Forwarded header names the client. Repeat for
    /// several, or comma-separate in the environment variable.
    #[arg(long = "trusted-proxy", env = "WHISPER_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<IpRange>,

    /// Serve /metrics on this address instead of the main one (which then
    /// answers 404 there).
    #[arg(long, env = "WHISPER_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
    /// Sustained requests per second to the HTTP read API (`/v1/chat/messages`,
    /// `/v1/rooms`) from one IP address; 0 turns the limit off.
    #[arg(long, env = "WHISPER_HTTP_REQUESTS_PER_SECOND", default_value_t = Config::DEFAULT_HTTP_REQUESTS_PER_SECOND)]
    http_requests_per_second: u32,

    /// Read API requests one address may make at once before the rate applies.
    #[arg(long, env = "WHISPER_HTTP_REQUEST_BURST", default_value_t = Config::DEFAULT_HTTP_REQUEST_BURST)]
    http_request_burst: u32,

    /// Read API requests reading the store at once, server-wide (kept below
    /// the store's readers, so joins always find one).
    #[arg(long, env = "WHISPER_HTTP_CONCURRENT_READS", default_value_t = Config::DEFAULT_HTTP_CONCURRENT_READS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    http_concurrent_reads: usize,

    /// Directory of the built web client (`web/dist`) to serve at `/`.
    #[arg(long, env = "WHISPER_WEB_DIR")]
    web_dir: Option<PathBuf>,

    /// Seconds between WebSocket pings; a client missing two is closed.
    #[arg(long, env = "WHISPER_HEARTBEAT_SECS", default_value_t = Config::DEFAULT_HEARTBEAT_SECS)]
    heartbeat_secs: u64,

    /// Seconds a client may take to send its HTTP request headers (slow
    /// handshakes are dropped).
    #[arg(long, env = "WHISPER_HANDSHAKE_TIMEOUT_SECS", default_value_t = Config::DEFAULT_HANDSHAKE_TIMEOUT_SECS)]
    handshake_timeout_secs: u64,

    /// Sustained messages per second per connection.
    #[arg(long, env = "WHISPER_MESSAGES_PER_SECOND", default_value_t = Config::DEFAULT_MESSAGES_PER_SECOND)]
    messages_per_second: u32,

    /// Messages a connection may send at once before the rate applies.
    #[arg(long, env = "WHISPER_MESSAGE_BURST", default_value_t = Config::DEFAULT_MESSAGE_BURST)]
    message_burst: u32,

    /// Frames a connection's outbound queue holds before it is closed as a
    /// slow consumer (1013).
    #[arg(long, env = "WHISPER_OUTBOX_CAPACITY", default_value_t = Config::DEFAULT_OUTBOX_CAPACITY)]
    outbox_capacity: usize,

    /// Bytes of message content one user may store per minute (over all its
    /// connections); 0: no limit.
    #[arg(long, env = "WHISPER_USER_WRITE_BYTES_PER_MINUTE", default_value_t = Config::DEFAULT_USER_WRITE_BYTES_PER_MINUTE)]
    user_write_bytes_per_minute: u64,

    /// Bytes of message content one user may store per day; 0: no limit.
    #[arg(long, env = "WHISPER_USER_WRITE_BYTES_PER_DAY", default_value_t = Config::DEFAULT_USER_WRITE_BYTES_PER_DAY)]
    user_write_bytes_per_day: u64,

    /// Bytes of message content one client address (IPv6: its /64) may store per
    /// minute, over all its users; 0: no limit.
    #[arg(long, env = "WHISPER_ADDRESS_WRITE_BYTES_PER_MINUTE", default_value_t = Config::DEFAULT_ADDRESS_WRITE_BYTES_PER_MINUTE)]
    address_write_bytes_per_minute: u64,

    /// Bytes of message content one client address may store per day; 0: no limit.
    #[arg(long, env = "WHISPER_ADDRESS_WRITE_BYTES_PER_DAY", default_value_t = Config::DEFAULT_ADDRESS_WRITE_BYTES_PER_DAY)]
    address_write_bytes_per_day: u64,

    /// New rooms (a first message into a room with no history) one user may create per
    /// hour; 0: no limit.
    #[arg(long, env = "WHISPER_USER_ROOMS_PER_HOUR", default_value_t = Config::DEFAULT_USER_ROOMS_PER_HOUR)]
    user_rooms_per_hour: u64,

    /// New rooms one user may create per day; 0: no limit.
    #[arg(long, env = "WHISPER_USER_ROOMS_PER_DAY", default_value_t = Config::DEFAULT_USER_ROOMS_PER_DAY)]
    user_rooms_per_day: u64,

    /// New rooms one client address may create per hour; 0: no limit.
    #[arg(long, env = "WHISPER_ADDRESS_ROOMS_PER_HOUR", default_value_t = Config::DEFAULT_ADDRESS_ROOMS_PER_HOUR)]
    address_rooms_per_hour: u64,

    /// New rooms one client address may create per day; 0: no limit.
    #[arg(long, env = "WHISPER_ADDRESS_ROOMS_PER_DAY", default_value_t = Config::DEFAULT_ADDRESS_ROOMS_PER_DAY)]
    address_rooms_per_day: u64,

    /// The length in seconds of the "per minute" window of the write budgets (shorter
    /// only in tests).
    #[arg(long, env = "WHISPER_QUOTA_MINUTE_SECS", default_value_t = Config::DEFAULT_QUOTA_MINUTE_SECS)]
    quota_minute_secs: u64,
    /// Bytes of frames a connection's outbound queue holds before it is
    /// closed as a slow consumer (1013).
    #[arg(long, env = "WHISPER_OUTBOX_BYTES", default_value_t = Config::DEFAULT_OUTBOX_BYTES)]
    outbox_bytes: usize,

    /// Seconds one write to a client may take before it is closed as not
    /// reading (1013).
    #[arg(long, env = "WHISPER_WRITE_TIMEOUT_SECS", default_value_t = Config::DEFAULT_WRITE_TIMEOUT_SECS)]
    write_timeout_secs: u64,

    /// Seconds to finish in-flight work on SIGINT/SIGTERM before exiting.
    #[arg(long, env = "WHISPER_SHUTDOWN_GRACE_SECS", default_value_t = Config::DEFAULT_SHUTDOWN_GRACE_SECS)]
    shutdown_grace_secs: u64,

    /// The most bytes one upload (`POST /v1/files`) may have.
    #[arg(long, env = "WHISPER_MAX_UPLOAD_BYTES", default_value_t = Config::DEFAULT_MAX_UPLOAD_BYTES)]
    max_upload_bytes: u64,

    /// A media type to accept in uploads besides PNG, JPEG, GIF and WebP
    /// images, recognised by the file's content (e.g. `application/pdf`,
    /// `application/zip`, `text/plain`). Repeat for several, or
    /// comma-separate in the environment variable.
    #[arg(long = "allow-file-type", env = "WHISPER_ALLOW_FILE_TYPES", value_delimiter = ',')]
    allow_file_types: Vec<String>,

    /// Seconds an uploaded file that no message carries is kept.
    #[arg(long, env = "WHISPER_UNPOSTED_FILE_SECS", default_value_t = Config::DEFAULT_UNPOSTED_FILE_SECS)]
    unposted_file_secs: u64,

    /// Seconds between sweeps of files nothing references (unposted ones
    /// past their time, and those whose messages were deleted).
    #[arg(long, env = "WHISPER_FILE_SWEEP_SECS", default_value_t = Config::DEFAULT_FILE_SWEEP_SECS)]
    file_sweep_secs: u64,
}

impl From<Cli> for Config {
    fn from(cli: Cli) -> Config {
        let Cli {
            bind,
            data_dir,
            database_url,
            nats_url,
            nats_subject,
            secret,
            jwt_secret,
            jwt_public_key,
            server_id,
            allowed_origins,
            public_origin,
            max_connections_per_ip,
            max_connections,
            trusted_proxies,
            metrics_bind,
            http_requests_per_second,
            http_request_burst,
            http_concurrent_reads,
            web_dir,
            heartbeat_secs,
            handshake_timeout_secs,
            messages_per_second,
            message_burst,
            outbox_capacity,
            user_write_bytes_per_minute,
            user_write_bytes_per_day,
            address_write_bytes_per_minute,
            address_write_bytes_per_day,
            user_rooms_per_hour,
            user_rooms_per_day,
            address_rooms_per_hour,
            address_rooms_per_day,
            quota_minute_secs,
            outbox_bytes,
            write_timeout_secs,
            shutdown_grace_secs,
            max_upload_bytes,
            allow_file_types,
            unposted_file_secs,
            file_sweep_secs,
        } = cli;
        Config {
            bind,
            data_dir,
            database_url,
            nats_url,
            nats_subject,
            secret,
            jwt_secret,
            jwt_public_key,
            server_id,
            allowed_origins,
            public_origin,
            max_connections_per_ip,
            max_connections,
            trusted_proxies,
            metrics_bind,
            http_requests_per_second,
            http_request_burst,
            http_concurrent_reads,
            web_dir,
            heartbeat_secs,
            handshake_timeout_secs,
            messages_per_second,
            message_burst,
            outbox_capacity,
            user_write_bytes_per_minute,
            user_write_bytes_per_day,
            address_write_bytes_per_minute,
            address_write_bytes_per_day,
            user_rooms_per_hour,
            user_rooms_per_day,
            address_rooms_per_hour,
            address_rooms_per_day,
            quota_minute_secs,
            outbox_bytes,
            write_timeout_secs,
            shutdown_grace_secs,
            max_upload_bytes,
            allow_file_types,
            unposted_file_secs,
            file_sweep_secs,
        }
    }
}
