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
    /// Typing notices are relayed at most once per this interval per user and room.
    pub typing_interval: Duration,
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
            max_recover: 1000,
            max_rooms_per_connection: 100,
            max_posts_in_flight: 16,
            outbox_capacity: 1024,
            typing_interval: Duration::from_secs(1),
            presence_interval: Duration::from_millis(250),
            heartbeat_interval: Some(Duration::from_secs(20)),
            missed_heartbeats: 2,
            close_timeout: Duration::from_secs(5),
            gap_grace: Duration::from_millis(100),
            peer_heartbeat: Duration::from_secs(1),
            peer_timeout: Duration::from_secs(5),
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
