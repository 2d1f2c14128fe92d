//! The limits of protocol.md §10, in one place, with their defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Most bytes of encoded messages in one page of `GET /v1/chat/messages`
/// (protocol.md §11): a page reaching it stops early, with `has_more`, and
/// always holds at least one message, so paging goes on. 500 messages of
/// 4,000 characters would otherwise be up to 8 MB for one small request.
pub const MAX_HISTORY_PAGE_BYTES: usize = 1 << 20;

/// Every limit a session and the hub enforce. All configurable; the defaults
/// are those protocol.md §10 lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most characters of message content after trimming.
    pub max_content_chars: usize,
    /// Most bytes of one WebSocket frame.
    pub max_frame_bytes: usize,
    /// Most messages in one `messages` frame.
    pub max_batch: usize,
    /// Sustained messages per second per connection.
    pub messages_per_second: u32,
    /// Messages a connection may send at once before the rate applies.
    pub message_burst: u32,
    /// Sustained non-message frames (join, leave, typing, profile) per second.
    pub control_frames_per_second: u32,
    /// Burst of non-message frames.
    pub control_frame_burst: u32,
    /// Sustained `join`, `leave` and `profile` frames per second (they also
    /// count as control frames): each may change presence, which every member
    /// of the room is told about (protocol.md §9, §10).
    pub presence_frames_per_second: u32,
    /// Burst of `join`, `leave` and `profile` frames: enough to join
    /// `max_rooms_per_connection` rooms at once after a reconnect (the
    /// control bucket still paces them).
    pub presence_frame_burst: u32,
    /// Most messages replayed by `join` with `since_seq`; a larger gap answers
    /// `recovered: false`.
    pub max_recover: u64,
    /// Most rooms one connection may have joined at once.
    pub max_rooms_per_connection: usize,
    /// `messages` frames of one connection being stored at once. The session
    /// reads the next frame while earlier ones wait for the store's commit
    /// (acks still go out in order), so one connection can fill a group
    /// commit; past this many it stops reading until an ack is sent.
    pub max_posts_in_flight: usize,
    /// Frames a connection's outbound queue holds before the connection is
    /// cut off as a slow consumer (close 1013).
    pub outbox_capacity: usize,
    /// Bytes of encoded frames a connection's outbound queue holds before the
    /// connection is cut off as a slow consumer (close 1013). A frame shared
    /// by many connections counts in full for each: this is what one slow
    /// reader can pin. A frame pushed into an empty queue is always taken,
    /// so no frame is too large for a reader that keeps up.
    pub outbox_bytes: usize,
    /// How long one write to the client (frames and their flush, a ping, the
    /// `welcome`) may take. A client that stopped reading blocks the write
    /// once its socket buffers are full; past this it is closed with 1013 and
    /// its memory freed, even in a quiet room where its outbox never fills.
    pub write_timeout: Duration,
    /// Frames in a row refused as `rate_limited` by the control-frame bucket
    /// (including frames that failed to decode, which take from it too)
    /// after which the connection is closed with 1008 rather than answered
    /// forever. Also the burst of WebSocket pings a client may send: pings
    /// take from the control-frame bucket, and one that finds it empty closes
    /// the connection with 1008.
    pub flood_refusals: u32,
    /// Typing notices are relayed at most once per this interval per user and room.
    pub typing_interval: Duration,
    /// A member's read receipts in a room are told at most once per this
    /// interval; the latest of a burst is told at its end (protocol.md §12).
    pub receipt_interval: Duration,
    /// Presence changes in a room are sent at most once per this interval;
    /// changes within it are coalesced into one frame.
    pub presence_interval: Duration,
    /// How often the session asks the transport to ping the client; `None`
    /// disables heartbeats (for transports that cannot ping).
    pub heartbeat_interval: Option<Duration>,
    /// Heartbeats without any sign of life (a pong or any frame) after which
    /// the connection is closed as unresponsive.
    pub missed_heartbeats: u32,
    /// How long a connection may take to accept the close frame before it is
    /// dropped without one (a client that stopped reading).
    pub close_timeout: Duration,
    /// How long the hub waits for a missing seq to be published before it
    /// reads it from the store (a publisher that died between commit and
    /// broadcast, or a message lost between nodes).
    pub gap_grace: Duration,
    /// In a cluster, how often a node tells the others it is alive.
    pub peer_heartbeat: Duration,
    /// In a cluster, how long a node may stay silent before the others
    /// forget it and its users (a node that died).
    pub peer_timeout: Duration,
    /// Write budgets and room-creation caps per user and per address.
    pub quotas: Quotas,
}

/// How much one user and one client address may store (protocol.md §10):
/// bytes of content (UTF-8 bytes of the stored text) and new rooms, each
/// over a short and a long window. `0` disables a budget.
///
/// Windows are fixed: one starts at a key's first charge and ends its
/// length later, when the key's use starts again from zero. A frame over
/// any budget is refused whole (`rate_limited`), and stores nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quotas {
    /// Content bytes one user may store per [`minute`](Quotas::minute).
    pub user_bytes_per_minute: u64,
    /// Content bytes one user may store per [`day`](Quotas::day).
    pub user_bytes_per_day: u64,
    /// Content bytes one address may store per [`minute`](Quotas::minute).
    pub address_bytes_per_minute: u64,
    /// Content bytes one address may store per [`day`](Quotas::day).
    pub address_bytes_per_day: u64,
    /// New rooms one user may create per [`hour`](Quotas::hour).
    pub user_rooms_per_hour: u64,
    /// New rooms one user may create per [`day`](Quotas::day).
    pub user_rooms_per_day: u64,
    /// New rooms one address may create per [`hour`](Quotas::hour).
    pub address_rooms_per_hour: u64,
    /// New rooms one address may create per [`day`](Quotas::day).
    pub address_rooms_per_day: u64,
    /// The length of the "per minute" window (shorter in tests).
    pub minute: Duration,
    /// The length of the "per hour" window.
    pub hour: Duration,
    /// The length of the "per day" window.
    pub day: Duration,
    /// Most users (and, separately, addresses) tracked at once; past it the
    /// least-charged are forgotten first, so forgetting one forgives little.
    pub max_tracked: usize,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            user_bytes_per_minute: 1 << 20,
            user_bytes_per_day: 64 << 20,
            address_bytes_per_minute: 4 << 20,
            address_bytes_per_day: 256 << 20,
            user_rooms_per_hour: 20,
            user_rooms_per_day: 100,
            address_rooms_per_hour: 60,
            address_rooms_per_day: 300,
            minute: Duration::from_secs(60),
            hour: Duration::from_secs(3600),
            day: Duration::from_secs(86_400),
            max_tracked: 100_000,
        }
    }
}

impl Quotas {
    /// Every budget off (for trusted embedders and benchmarks).
    pub fn unlimited() -> Self {
        Quotas {
            user_bytes_per_minute: 0,
            user_bytes_per_day: 0,
            address_bytes_per_minute: 0,
            address_bytes_per_day: 0,
            user_rooms_per_hour: 0,
            user_rooms_per_day: 0,
            address_rooms_per_hour: 0,
            address_rooms_per_day: 0,
            ..Quotas::default()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_content_chars: 4000,
            max_frame_bytes: 64 * 1024,
            max_batch: 100,
            messages_per_second: 20,
            message_burst: 40,
            control_frames_per_second: 20,
            control_frame_burst: 40,
            presence_frames_per_second: 5,
            presence_frame_burst: 100,
            max_recover: 1000,
            max_rooms_per_connection: 100,
            max_posts_in_flight: 16,
            outbox_capacity: 1024,
            outbox_bytes: 4 * 1024 * 1024,
            write_timeout: Duration::from_secs(10),
            flood_refusals: 40,
            typing_interval: Duration::from_secs(1),
            receipt_interval: Duration::from_secs(1),
            presence_interval: Duration::from_millis(250),
            heartbeat_interval: Some(Duration::from_secs(20)),
            missed_heartbeats: 2,
            close_timeout: Duration::from_secs(5),
            gap_grace: Duration::from_millis(100),
            peer_heartbeat: Duration::from_secs(1),
            peer_timeout: Duration::from_secs(5),
            quotas: Quotas::default(),
        }
    }
}

/// The limits a client needs to know, sent in `welcome`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct WireLimits {
    /// See [`Limits::max_content_chars`].
    pub max_content_chars: usize,
    /// See [`Limits::max_frame_bytes`].
    pub max_frame_bytes: usize,
    /// See [`Limits::max_batch`].
    pub max_batch: usize,
    /// See [`Limits::messages_per_second`].
    pub messages_per_second: u32,
    /// See [`Limits::message_burst`].
    pub message_burst: u32,
    /// See [`Limits::max_recover`].
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub max_recover: u64,
    /// See [`Limits::max_rooms_per_connection`].
    pub max_rooms: usize,
}

impl From<&Limits> for WireLimits {
    fn from(l: &Limits) -> Self {
        WireLimits {
            max_content_chars: l.max_content_chars,
            max_frame_bytes: l.max_frame_bytes,
            max_batch: l.max_batch,
            messages_per_second: l.messages_per_second,
            message_burst: l.message_burst,
            max_recover: l.max_recover,
            max_rooms: l.max_rooms_per_connection,
        }
    }
}
