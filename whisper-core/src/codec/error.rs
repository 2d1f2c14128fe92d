//! Error codes (protocol.md §5) and the typed error that decoding returns.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{ClientId, RoomName};

/// The error codes of protocol.md §5, as they appear on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Bad JSON, or a frame that breaks the schema; `details` lists each problem.
    InvalidFrame,
    /// A `type` the server does not know.
    UnknownType,
    /// The frame acts for another user.
    Forbidden,
    /// Too many items, or an item too big.
    TooLarge,
    /// Over the connection's rate.
    RateLimited,
    /// The store could not commit; nothing of the frame was stored.
    StorageUnavailable,
    /// The frame names something that does not exist (e.g. leaving a room not joined).
    NotFound,
    /// A server fault; nothing of the frame was stored.
    Internal,
}

impl ErrorCode {
    /// The wire name, e.g. `invalid_frame`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidFrame => "invalid_frame",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal as the client sees it: a code, a sentence, and each problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[error("{code}: {message}")]
pub struct Refusal {
    /// What kind of refusal.
    pub code: ErrorCode,
    /// One readable sentence.
    pub message: String,
    /// Every problem found, `path: problem`, like a validator reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "typescript", ts(optional, as = "Option<Vec<String>>"))]
    pub details: Vec<String>,
    /// The room the refused frame was about (`join`, `leave`, `typing`), so a
    /// client can tell which of its rooms the refusal concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub room: Option<RoomName>,
    /// With `rate_limited`: how long to wait before the same frame would be
    /// accepted, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub retry_after_ms: Option<u64>,
}

impl Refusal {
    /// A refusal with no details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal { code, message: message.into(), details: Vec::new(), room: None, retry_after_ms: None }
    }

    /// The same refusal, saying how long to wait before retrying.
    pub fn retry_after(self, wait: std::time::Duration) -> Self {
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        Refusal { retry_after_ms: Some(ms), ..self }
    }

    /// The same refusal, naming the room it is about.
    pub fn in_room(self, room: &RoomName) -> Self {
        Refusal { room: Some(room.clone()), ..self }
    }
}

/// The kind of client frame a decode error belongs to, when its `type` was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameType {
    /// `messages`
    Messages,
    /// `join`
    Join,
    /// `leave`
    Leave,
    /// `typing`
    Typing,
    /// `profile`
    Profile,
    /// `read`
    Read,
    /// `edit`
    Edit,
    /// `delete`
    Delete,
    /// `react`
    React,
    /// `ping`
    Ping,
    /// `status`
    Status,
}

impl FrameType {
    /// Whether the frame is answered by an `ack` (protocol.md §13), even
    /// when refused.
    pub fn is_acked(self) -> bool {
        matches!(self, FrameType::Edit | FrameType::Delete | FrameType::React)
    }
}

/// Why a client frame could not be decoded. Lists every problem found, not
/// only the first.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{refusal}")]
pub struct DecodeError {
    /// What to tell the client.
    pub refusal: Refusal,
    /// The frame's type, if it had a known one: a refused `messages` frame is
    /// answered with a `message_ids` error rather than an `error` frame.
    pub frame_type: Option<FrameType>,
    /// For a `messages` frame, each item's `client_id` where it could be read,
    /// so the client can mark exactly those messages failed; for `edit`,
    /// `delete` and `react`, the frame's own if it could be read (it is
    /// then answered with an `ack`).
    pub client_ids: Vec<Option<ClientId>>,
}
