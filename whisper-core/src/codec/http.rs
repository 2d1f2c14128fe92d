//! Bodies of the HTTP API (protocol.md §11), shared by the server that writes them
//! and the clients that read them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::{
    DisplayName, Entry, Epoch, Member, Message, Role, RoomName, RoomTitle, Seq, TextMark, UserId, Visibility,
};

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
    /// The caller's read watermark, when the request named the caller (a
    /// token) and the store could tell (protocol.md §12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub read_seq: Option<Seq>,
    /// The messages by others after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub unread: Option<u64>,
    /// Who may see it (protocol.md §15).
    #[serde(default)]
    pub visibility: Visibility,
    /// Its title, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub title: Option<RoomTitle>,
    /// Its topic (empty: none).
    #[serde(default)]
    #[cfg_attr(feature = "typescript", ts(type = "string"))]
    pub topic: crate::model::Topic,
    /// The caller's role, when a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub role: Option<Role>,
    /// In a direct room, the other member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub peer: Option<Person>,
}

/// A user as named in a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct Person {
    /// The user.
    pub user_id: UserId,
    /// Their display name.
    pub name: DisplayName,
}

/// `GET /v1/rooms/{room}`: a room, its members and (for its moderators)
/// who is banned from it (protocol.md §15).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct RoomDetail {
    /// The room, as `GET /v1/rooms` lists it.
    pub room: RoomSummary,
    /// Its members, by user id (at most 1,000).
    pub members: Vec<Member>,
    /// Who is banned, for an owner or moderator only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub banned: Option<Vec<Person>>,
}

/// `GET /v1/search?q=&room=&limit=&before=`: messages that match, newest
/// first, over the rooms the caller may read (protocol.md §16).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct SearchResults {
    /// Newest first, each in its current state.
    pub results: Vec<SearchHit>,
    /// The `before` of the next (older) page, or `null` after the last.
    #[cfg_attr(feature = "typescript", ts(type = "string | null"))]
    pub next: Option<String>,
}

/// One message a search found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct SearchHit {
    /// The message (its `room` and `seq` say where to open it).
    pub message: Message,
    /// Where the searched words are in its `content`.
    pub marks: Vec<TextMark>,
}

/// `GET /v1/rooms?limit=&after=`: a page of rooms (protocol.md §11).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct RoomList {
    /// Rooms with history, by name, after the cursor asked for.
    pub rooms: Vec<RoomSummary>,
    /// Whether rooms follow this page.
    pub has_more: bool,
    /// The cursor of the next page (its `after`): the last room of this
    /// page when `has_more`, else `null`.
    #[cfg_attr(feature = "typescript", ts(type = "string | null"))]
    pub next: Option<RoomName>,
}

/// `GET /v1/chat/events`: a page of a room's log, oldest first
/// (protocol.md §13). Not exported to TypeScript: the web client syncs
/// through the WebSocket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsPage<'a> {
    /// Always `"events"`.
    #[serde(rename = "type")]
    pub kind: Cow<'a, str>,
    /// The room.
    pub room: RoomName,
    /// Consecutive seqs: messages as posted and the other events.
    pub data: Cow<'a, [Entry]>,
    /// Whether the log goes on after this page.
    pub has_more: bool,
    /// The last entry's seq (the `after_seq` given, for an empty page).
    pub next_after_seq: Seq,
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
    /// What went wrong, for programs (protocol.md §1, §11).
    pub code: HttpErrorCode,
    /// One readable sentence.
    pub message: String,
}

/// The codes an HTTP error carries, each with its one status: a client can
/// branch on either and never sees two codes for one kind of refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub enum HttpErrorCode {
    /// 400: a query parameter or upgrade header is malformed.
    InvalidRequest,
    /// 401: the token is not valid here, or none was presented where one
    /// is needed.
    Unauthorized,
    /// 401: the email and password do not match an account (the same
    /// answer for an unknown email and a wrong password).
    InvalidCredentials,
    /// 400: a new password breaks the rule (protocol.md §14).
    WeakPassword,
    /// 409: an account with this email exists.
    EmailTaken,
    /// 409: an account with this name exists (names ignore case).
    NameTaken,
    /// 403: not allowed (e.g. an Origin not on the allow-list).
    Forbidden,
    /// 404: no such endpoint or file.
    NotFound,
    /// 405: the endpoint exists but not for this method.
    MethodNotAllowed,
    /// 426: the WebSocket endpoint was asked without an upgrade.
    UpgradeRequired,
    /// 429: too many connections or requests from this address (the
    /// answer to a request carries `Retry-After`).
    RateLimited,
    /// 500: a bug or corrupt data on the server's side.
    Internal,
    /// 503: the store cannot be reached for now; retry later.
    StorageUnavailable,
    /// 503: the server holds as many connections as it may (its global
    /// cap, below its file-descriptor limit); retry after `Retry-After`.
    TooManyConnections,
    /// 409: it contradicts the state (a room name taken, already a member,
    /// the last owner leaving).
    Conflict,
    /// 413: an upload over the size limit (protocol.md §17).
    PayloadTooLarge,
    /// 415: an upload whose content is not of an allowed type, or not of
    /// the type it claims.
    UnsupportedMediaType,
    /// 422: an image that cannot be read, or is too large to process.
    InvalidImage,
}

impl HttpErrorCode {
    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            HttpErrorCode::InvalidRequest => 400,
            HttpErrorCode::Unauthorized | HttpErrorCode::InvalidCredentials => 401,
            HttpErrorCode::WeakPassword => 400,
            HttpErrorCode::EmailTaken | HttpErrorCode::NameTaken | HttpErrorCode::Conflict => 409,
            HttpErrorCode::Forbidden => 403,
            HttpErrorCode::NotFound => 404,
            HttpErrorCode::MethodNotAllowed => 405,
            HttpErrorCode::UpgradeRequired => 426,
            HttpErrorCode::RateLimited => 429,
            HttpErrorCode::Internal => 500,
            HttpErrorCode::StorageUnavailable => 503,
            HttpErrorCode::TooManyConnections => 503,
            HttpErrorCode::PayloadTooLarge => 413,
            HttpErrorCode::UnsupportedMediaType => 415,
            HttpErrorCode::InvalidImage => 422,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_snake_case_on_the_wire() {
        let body =
            HttpError { error: HttpErrorBody { code: HttpErrorCode::StorageUnavailable, message: "later".into() } };
        let text = serde_json::to_string(&body).unwrap();
        assert_eq!(text, r#"{"error":{"code":"storage_unavailable","message":"later"}}"#);
        assert_eq!(serde_json::from_str::<HttpError>(&text).unwrap(), body);
        assert_eq!(HttpErrorCode::InvalidRequest.status(), 400);
        assert_eq!(serde_json::to_string(&HttpErrorCode::TooManyConnections).unwrap(), r#""too_many_connections""#);
        assert_eq!(HttpErrorCode::TooManyConnections.status(), 503);
    }
}
