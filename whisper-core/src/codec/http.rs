//! Bodies of the HTTP API (protocol.md §11), shared by the server that writes them
//! and the clients that read them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::{Epoch, Message, RoomName, Seq};

/// `GET /v1/chat/messages`: a page of history, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct HistoryPage<'a> {
    /// Always `"messages"`, like the WebSocket frame.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "typescript", ts(type = "\"messages\""))]
    pub kind: Cow<'a, str>,
    /// The room.
    pub room: RoomName,
    /// Oldest first.
    #[cfg_attr(feature = "typescript", ts(as = "Vec<Message>"))]
    pub data: Cow<'a, [Message]>,
    /// Whether more messages lie in the direction read (older ones for
    /// `before_seq` or the latest page, newer ones for `after_seq`).
    pub has_more: bool,
}

/// One room in `GET /v1/rooms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct RoomSummary {
    /// The room.
    pub name: RoomName,
    /// Users online in it on this node.
    pub online: usize,
    /// Its latest seq.
    pub last_seq: Seq,
    /// Its history id.
    pub epoch: Epoch,
    /// When its latest message was accepted.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "typescript", ts(type = "string | null"))]
    pub last_message_at: Option<OffsetDateTime>,
}

/// `GET /v1/rooms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct RoomList {
    /// Rooms with history, by name.
    pub rooms: Vec<RoomSummary>,
}

/// Every HTTP error body: `{"error":{"code","message"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct HttpError {
    /// The error.
    pub error: HttpErrorBody,
}

/// The inside of an [`HttpError`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct HttpErrorBody {
    /// A machine-readable code, e.g. `invalid_request`, `storage_unavailable`.
    pub code: String,
    /// One readable sentence.
    pub message: String,
}
