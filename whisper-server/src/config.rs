//! The server's configuration: a plain value with public fields and
//! documented defaults. Building one reads neither the command line nor the
//! environment; the `whisper-server` binary maps its options (and their
//! `WHISPER_*` variables) onto it, with these same defaults.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use whisper_core::Limits;

/// How a server listens, where it keeps its data, which store and broker
/// [`Server::builder`](crate::Server::builder) opens, and the chat limits.
#[derive(Clone, Debug)]
pub struct Config {
    /// The address the server is reachable at (the caller binds the
    /// listener; the binary binds this one).
    pub bind: SocketAddr,

    /// Directory for the SQLite database (`whisper.db`) and the server secret
    /// (`secret`); created if missing.
    pub data_dir: PathBuf,

    /// PostgreSQL URL (e.g. `postgres://user@host/db`). When set, history is
    /// kept there instead of the embedded SQLite file. Default: none.
    pub database_url: Option<String>,

    /// NATS server for several nodes (e.g. `nats://127.0.0.1:4222`): each node
    /// publishes its room events there and receives the others'. Needs the
    /// `nats` feature. Default: none, a single node.
    pub nats_url: Option<String>,

    /// The NATS subject the nodes of this cluster share. Default
    /// [`Config::DEFAULT_NATS_SUBJECT`].
    pub nats_subject: String,

    /// Secret that signs identity tokens (the same on every node). Default:
    /// none, one generated once and kept in `<data dir>/secret`.
    pub secret: Option<String>,

    /// This node's name in `welcome` and logs. Default: none, a random one.
    pub server_id: Option<String>,

    /// Origins allowed to open WebSockets besides the server's own (e.g.
    /// `https://chat.example.com`). Requests without Origin (non-browser
    /// clients) are always allowed. Default: none.
    pub allowed_origins: Vec<String>,

    /// Most WebSocket connections open at once from one IP address. Default
    /// [`Config::DEFAULT_MAX_CONNECTIONS_PER_IP`].
    pub max_connections_per_ip: u32,

    /// Sustained requests per second to the HTTP read API (`/v1/chat/messages`,
    /// `/v1/rooms`) from one IP address; past the burst such a request is
    /// answered 429 `rate_limited` with `Retry-After` (protocol.md §10). 0
    /// turns the limit off. Default
    /// [`Config::DEFAULT_HTTP_REQUESTS_PER_SECOND`].
    pub http_requests_per_second: u32,

    /// Read API requests one address may make at once before the rate
    /// applies. Default [`Config::DEFAULT_HTTP_REQUEST_BURST`].
    pub http_request_burst: u32,

    /// Read API requests reading the store at once, server-wide; more wait
    /// their turn. Kept below the store's read capacity (SQLite's
    /// `MAX_READERS`, PostgreSQL's read connections) so that bulk reads never
    /// take every reader and a join or a recovery still gets one. Default
    /// [`Config::DEFAULT_HTTP_CONCURRENT_READS`].
    pub http_concurrent_reads: usize,

    /// Directory of the built web client (`web/dist`) to serve at `/`.
    /// Default: none, the embedded copy if any (feature `web`).
    pub web_dir: Option<PathBuf>,

    /// Seconds between WebSocket pings; a client missing two is closed; 0
    /// sends none. Default [`Config::DEFAULT_HEARTBEAT_SECS`].
    pub heartbeat_secs: u64,

    /// Seconds a client may take to send its HTTP request headers (slow
    /// handshakes are dropped). Default [`Config::DEFAULT_HANDSHAKE_TIMEOUT_SECS`].
    pub handshake_timeout_secs: u64,

    /// Sustained messages per second per connection. Default
    /// [`Config::DEFAULT_MESSAGES_PER_SECOND`].
    pub messages_per_second: u32,

    /// Messages a connection may send at once before the rate applies.
    /// Default [`Config::DEFAULT_MESSAGE_BURST`].
    pub message_burst: u32,

    /// Frames a connection's outbound queue holds before it is closed as a
    /// slow consumer (1013). Default [`Config::DEFAULT_OUTBOX_CAPACITY`].
    pub outbox_capacity: usize,

    /// Seconds to finish in-flight work once shutdown starts. Default
    /// [`Config::DEFAULT_SHUTDOWN_GRACE_SECS`].
    pub shutdown_grace_secs: u64,
}

impl Config {
    /// The binary's `--bind` unless told otherwise.
    pub const DEFAULT_BIND: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
    /// The binary's `--data-dir` unless told otherwise.
    pub const DEFAULT_DATA_DIR: &'static str = "./data";
    /// The default of [`nats_subject`](Config::nats_subject).
    pub const DEFAULT_NATS_SUBJECT: &'static str = "whisper.rooms";
    /// The default of [`max_connections_per_ip`](Config::max_connections_per_ip).
    pub const DEFAULT_MAX_CONNECTIONS_PER_IP: u32 = 256;
    /// The default of [`http_requests_per_second`](Config::http_requests_per_second).
    pub const DEFAULT_HTTP_REQUESTS_PER_SECOND: u32 = 20;
    /// The default of [`http_request_burst`](Config::http_request_burst).
    pub const DEFAULT_HTTP_REQUEST_BURST: u32 = 40;
    /// The default of [`http_concurrent_reads`](Config::http_concurrent_reads):
    /// half of SQLite's four readers.
    pub const DEFAULT_HTTP_CONCURRENT_READS: usize = 2;
    /// The default of [`heartbeat_secs`](Config::heartbeat_secs).
    pub const DEFAULT_HEARTBEAT_SECS: u64 = 20;
    /// The default of [`handshake_timeout_secs`](Config::handshake_timeout_secs).
    pub const DEFAULT_HANDSHAKE_TIMEOUT_SECS: u64 = 10;
    /// The default of [`messages_per_second`](Config::messages_per_second).
    pub const DEFAULT_MESSAGES_PER_SECOND: u32 = 20;
    /// The default of [`message_burst`](Config::message_burst).
    pub const DEFAULT_MESSAGE_BURST: u32 = 40;
    /// The default of [`outbox_capacity`](Config::outbox_capacity).
    pub const DEFAULT_OUTBOX_CAPACITY: usize = 1024;
    /// The default of [`shutdown_grace_secs`](Config::shutdown_grace_secs).
    pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 10;

    /// The defaults, listening at `bind` with its data in `data_dir`: SQLite,
    /// a single node, a generated secret.
    pub fn new(bind: SocketAddr, data_dir: impl Into<PathBuf>) -> Config {
        Config {
            bind,
            data_dir: data_dir.into(),
            database_url: None,
            nats_url: None,
            nats_subject: Config::DEFAULT_NATS_SUBJECT.to_owned(),
            secret: None,
            server_id: None,
            allowed_origins: Vec::new(),
            max_connections_per_ip: Config::DEFAULT_MAX_CONNECTIONS_PER_IP,
            http_requests_per_second: Config::DEFAULT_HTTP_REQUESTS_PER_SECOND,
            http_request_burst: Config::DEFAULT_HTTP_REQUEST_BURST,
            http_concurrent_reads: Config::DEFAULT_HTTP_CONCURRENT_READS,
            web_dir: None,
            heartbeat_secs: Config::DEFAULT_HEARTBEAT_SECS,
            handshake_timeout_secs: Config::DEFAULT_HANDSHAKE_TIMEOUT_SECS,
            messages_per_second: Config::DEFAULT_MESSAGES_PER_SECOND,
            message_burst: Config::DEFAULT_MESSAGE_BURST,
            outbox_capacity: Config::DEFAULT_OUTBOX_CAPACITY,
            shutdown_grace_secs: Config::DEFAULT_SHUTDOWN_GRACE_SECS,
        }
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
