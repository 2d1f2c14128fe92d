//! The server's configuration: a plain value with public fields and
//! documented defaults. Building one reads neither the command line nor the
//! environment; the `whisper-server` binary maps its options (and their
//! `WHISPER_*` variables) onto it, with these same defaults.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use whisper_core::Limits;
use whisper_core::limits::Quotas;

use crate::client_addr::IpRange;

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

    /// HS256 secret of the application's JWTs (protocol.md §14). Default: none.
    pub jwt_secret: Option<String>,

    /// PEM public key of the application's JWTs (RS256, ES256 or EdDSA).
    /// Default: none.
    pub jwt_public_key: Option<PathBuf>,

    /// This node's name in `welcome` and logs. Default: none, a random one.
    pub server_id: Option<String>,

    /// Origins allowed to open WebSockets besides the server's own (e.g.
    /// `https://chat.example.com`). Requests without Origin (non-browser
    /// clients) are always allowed. Default: none.
    pub allowed_origins: Vec<String>,

    /// The origin browsers reach this server at (e.g.
    /// `https://chat.example.com`). When set, "the server's own origin" is
    /// this, not whatever the Host header says (DNS rebinding). Default:
    /// none — the request's Host, and only a loopback name when the server
    /// listens on loopback.
    pub public_origin: Option<String>,

    /// Most TCP connections (plain HTTP and WebSocket alike, counted from
    /// accept) open at once from one IP address, an IPv6 address by its
    /// /64. A trusted proxy's own connections are not counted; the clients
    /// it forwards are, at their WebSocket upgrade. Default
    /// [`Config::DEFAULT_MAX_CONNECTIONS_PER_IP`].
    pub max_connections_per_ip: u32,

    /// Most TCP connections open at once (HTTP and WebSocket alike); a
    /// connection over it is answered 503 `too_many_connections` and
    /// closed, and a few more slots are kept for health checks
    /// ([`HEALTH_RESERVE`](crate::descriptors::HEALTH_RESERVE)). Default:
    /// none, the descriptor limit (raised to the hard limit at start) minus
    /// [`DESCRIPTOR_MARGIN`](crate::descriptors::DESCRIPTOR_MARGIN) and the
    /// reserve.
    pub max_connections: Option<usize>,

    /// Proxies (addresses or CIDR blocks) whose `X-Forwarded-For` or
    /// `Forwarded` header names the client; from any other peer those
    /// headers are ignored. Default: none.
    pub trusted_proxies: Vec<IpRange>,

    /// A separate address to serve `/metrics` on; when set, the main
    /// listener answers 404 there. Default: none, `/metrics` on the main
    /// listener.
    pub metrics_bind: Option<SocketAddr>,
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

    /// Bytes of message content one user may store per minute (over all its connections); 0: no limit. Default
    /// [`Config::DEFAULT_USER_WRITE_BYTES_PER_MINUTE`].
    pub user_write_bytes_per_minute: u64,

    /// Bytes of message content one user may store per day; 0: no limit. Default
    /// [`Config::DEFAULT_USER_WRITE_BYTES_PER_DAY`].
    pub user_write_bytes_per_day: u64,

    /// Bytes of message content one client address (IPv6: its /64) may store per minute, over all its users; 0: no limit. Default
    /// [`Config::DEFAULT_ADDRESS_WRITE_BYTES_PER_MINUTE`].
    pub address_write_bytes_per_minute: u64,

    /// Bytes of message content one client address may store per day; 0: no limit. Default
    /// [`Config::DEFAULT_ADDRESS_WRITE_BYTES_PER_DAY`].
    pub address_write_bytes_per_day: u64,

    /// New rooms (a first message into a room with no history) one user may create per hour; 0: no limit. Default
    /// [`Config::DEFAULT_USER_ROOMS_PER_HOUR`].
    pub user_rooms_per_hour: u64,

    /// New rooms one user may create per day; 0: no limit. Default
    /// [`Config::DEFAULT_USER_ROOMS_PER_DAY`].
    pub user_rooms_per_day: u64,

    /// New rooms one client address may create per hour; 0: no limit. Default
    /// [`Config::DEFAULT_ADDRESS_ROOMS_PER_HOUR`].
    pub address_rooms_per_hour: u64,

    /// New rooms one client address may create per day; 0: no limit. Default
    /// [`Config::DEFAULT_ADDRESS_ROOMS_PER_DAY`].
    pub address_rooms_per_day: u64,

    /// The length in seconds of the "per minute" window of the write budgets (shorter only in tests). Default
    /// [`Config::DEFAULT_QUOTA_MINUTE_SECS`].
    pub quota_minute_secs: u64,
    /// Bytes of frames a connection's outbound queue holds before it is
    /// closed as a slow consumer (1013); a frame shared by many connections
    /// counts for each. Default [`Config::DEFAULT_OUTBOX_BYTES`].
    pub outbox_bytes: usize,

    /// Seconds one write to a client (frames, a ping) may take before the
    /// client is closed as not reading (1013). Default
    /// [`Config::DEFAULT_WRITE_TIMEOUT_SECS`].
    pub write_timeout_secs: u64,

    /// Seconds to finish in-flight work once shutdown starts. Default
    /// [`Config::DEFAULT_SHUTDOWN_GRACE_SECS`].
    pub shutdown_grace_secs: u64,

    /// The most bytes one upload may have (protocol.md §17). Default
    /// [`Config::DEFAULT_MAX_UPLOAD_BYTES`] (10 MiB).
    pub max_upload_bytes: u64,
    /// Media types accepted besides the four image types (e.g.
    /// `application/pdf`, `text/plain`); each is recognised by its
    /// content. Default: none.
    pub allow_file_types: Vec<String>,
    /// Seconds an upload no message carries is kept. Default
    /// [`Config::DEFAULT_UNPOSTED_FILE_SECS`] (a day).
    pub unposted_file_secs: u64,
    /// Seconds between sweeps of files nothing references. Default
    /// [`Config::DEFAULT_FILE_SWEEP_SECS`].
    pub file_sweep_secs: u64,
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
    /// The default of [`user_write_bytes_per_minute`](Config::user_write_bytes_per_minute).
    pub const DEFAULT_USER_WRITE_BYTES_PER_MINUTE: u64 = 1 << 20;
    /// The default of [`user_write_bytes_per_day`](Config::user_write_bytes_per_day).
    pub const DEFAULT_USER_WRITE_BYTES_PER_DAY: u64 = 64 << 20;
    /// The default of [`address_write_bytes_per_minute`](Config::address_write_bytes_per_minute).
    pub const DEFAULT_ADDRESS_WRITE_BYTES_PER_MINUTE: u64 = 4 << 20;
    /// The default of [`address_write_bytes_per_day`](Config::address_write_bytes_per_day).
    pub const DEFAULT_ADDRESS_WRITE_BYTES_PER_DAY: u64 = 256 << 20;
    /// The default of [`user_rooms_per_hour`](Config::user_rooms_per_hour).
    pub const DEFAULT_USER_ROOMS_PER_HOUR: u64 = 20;
    /// The default of [`user_rooms_per_day`](Config::user_rooms_per_day).
    pub const DEFAULT_USER_ROOMS_PER_DAY: u64 = 100;
    /// The default of [`address_rooms_per_hour`](Config::address_rooms_per_hour).
    pub const DEFAULT_ADDRESS_ROOMS_PER_HOUR: u64 = 60;
    /// The default of [`address_rooms_per_day`](Config::address_rooms_per_day).
    pub const DEFAULT_ADDRESS_ROOMS_PER_DAY: u64 = 300;
    /// The default of [`quota_minute_secs`](Config::quota_minute_secs).
    pub const DEFAULT_QUOTA_MINUTE_SECS: u64 = 60;
    /// The default of [`outbox_bytes`](Config::outbox_bytes): 4 MiB.
    pub const DEFAULT_OUTBOX_BYTES: usize = 4 * 1024 * 1024;
    /// The default of [`write_timeout_secs`](Config::write_timeout_secs).
    pub const DEFAULT_WRITE_TIMEOUT_SECS: u64 = 10;
    /// The default of [`shutdown_grace_secs`](Config::shutdown_grace_secs).
    pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 10;
    /// The default of [`max_upload_bytes`](Config::max_upload_bytes): 10 MiB.
    pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 10 * 1024 * 1024;
    /// The default of [`unposted_file_secs`](Config::unposted_file_secs): 24 hours.
    pub const DEFAULT_UNPOSTED_FILE_SECS: u64 = 24 * 60 * 60;
    /// The default of [`file_sweep_secs`](Config::file_sweep_secs).
    pub const DEFAULT_FILE_SWEEP_SECS: u64 = 60;

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
            jwt_secret: None,
            jwt_public_key: None,
            server_id: None,
            allowed_origins: Vec::new(),
            public_origin: None,
            max_connections_per_ip: Config::DEFAULT_MAX_CONNECTIONS_PER_IP,
            max_connections: None,
            trusted_proxies: Vec::new(),
            metrics_bind: None,
            http_requests_per_second: Config::DEFAULT_HTTP_REQUESTS_PER_SECOND,
            http_request_burst: Config::DEFAULT_HTTP_REQUEST_BURST,
            http_concurrent_reads: Config::DEFAULT_HTTP_CONCURRENT_READS,
            web_dir: None,
            heartbeat_secs: Config::DEFAULT_HEARTBEAT_SECS,
            handshake_timeout_secs: Config::DEFAULT_HANDSHAKE_TIMEOUT_SECS,
            messages_per_second: Config::DEFAULT_MESSAGES_PER_SECOND,
            message_burst: Config::DEFAULT_MESSAGE_BURST,
            outbox_capacity: Config::DEFAULT_OUTBOX_CAPACITY,
            user_write_bytes_per_minute: Config::DEFAULT_USER_WRITE_BYTES_PER_MINUTE,
            user_write_bytes_per_day: Config::DEFAULT_USER_WRITE_BYTES_PER_DAY,
            address_write_bytes_per_minute: Config::DEFAULT_ADDRESS_WRITE_BYTES_PER_MINUTE,
            address_write_bytes_per_day: Config::DEFAULT_ADDRESS_WRITE_BYTES_PER_DAY,
            user_rooms_per_hour: Config::DEFAULT_USER_ROOMS_PER_HOUR,
            user_rooms_per_day: Config::DEFAULT_USER_ROOMS_PER_DAY,
            address_rooms_per_hour: Config::DEFAULT_ADDRESS_ROOMS_PER_HOUR,
            address_rooms_per_day: Config::DEFAULT_ADDRESS_ROOMS_PER_DAY,
            quota_minute_secs: Config::DEFAULT_QUOTA_MINUTE_SECS,
            outbox_bytes: Config::DEFAULT_OUTBOX_BYTES,
            write_timeout_secs: Config::DEFAULT_WRITE_TIMEOUT_SECS,
            shutdown_grace_secs: Config::DEFAULT_SHUTDOWN_GRACE_SECS,
            max_upload_bytes: Config::DEFAULT_MAX_UPLOAD_BYTES,
            allow_file_types: Vec::new(),
            unposted_file_secs: Config::DEFAULT_UNPOSTED_FILE_SECS,
            file_sweep_secs: Config::DEFAULT_FILE_SWEEP_SECS,
        }
    }

    /// Turns every write budget and room-creation cap off: for a load test
    /// from one address, or a deployment behind something that limits
    /// writers itself.
    pub fn lift_quotas(&mut self) {
        self.user_write_bytes_per_minute = 0;
        self.user_write_bytes_per_day = 0;
        self.address_write_bytes_per_minute = 0;
        self.address_write_bytes_per_day = 0;
        self.user_rooms_per_hour = 0;
        self.user_rooms_per_day = 0;
        self.address_rooms_per_hour = 0;
        self.address_rooms_per_day = 0;
    }

    /// The chat limits this configuration sets.
    pub fn limits(&self) -> Limits {
        Limits {
            messages_per_second: self.messages_per_second,
            message_burst: self.message_burst,
            outbox_capacity: self.outbox_capacity,
            outbox_bytes: self.outbox_bytes,
            write_timeout: Duration::from_secs(self.write_timeout_secs.max(1)),
            heartbeat_interval: (self.heartbeat_secs > 0).then(|| Duration::from_secs(self.heartbeat_secs)),
            quotas: Quotas {
                user_bytes_per_minute: self.user_write_bytes_per_minute,
                user_bytes_per_day: self.user_write_bytes_per_day,
                address_bytes_per_minute: self.address_write_bytes_per_minute,
                address_bytes_per_day: self.address_write_bytes_per_day,
                user_rooms_per_hour: self.user_rooms_per_hour,
                user_rooms_per_day: self.user_rooms_per_day,
                address_rooms_per_hour: self.address_rooms_per_hour,
                address_rooms_per_day: self.address_rooms_per_day,
                minute: Duration::from_secs(self.quota_minute_secs.max(1)),
                ..Quotas::default()
            },
            ..Limits::default()
        }
    }
}
