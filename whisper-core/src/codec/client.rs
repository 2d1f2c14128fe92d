//! Frames a client sends (protocol.md §3), and their validation.
//!
//! Decoding walks the JSON once and collects every problem as `path: problem`
//! instead of stopping at the first, so a client author sees all that is wrong
//! with a frame in one `invalid_frame` answer.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{DecodeError, ErrorCode, FrameType, Refusal};
use crate::limits::Limits;
use crate::model::{ClientId, DisplayName, Emoji, Epoch, FileId, MAX_ATTACHMENTS, MessageId, RoomName, Seq, UserId};

/// A decoded, validated client frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Send messages: 1..=`max_batch` of them.
    Messages {
        /// The messages, in the order the client wants them stored.
        data: Vec<Draft>,
    },
    /// Subscribe to a room, replaying what was missed after `since_seq`.
    Join {
        /// The room.
        room: RoomName,
        /// The last seq the client has; replay everything after it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        since_seq: Option<Seq>,
        /// The epoch `since_seq` belongs to; if the room's differs, nothing
        /// is replayed and `joined` says `recovered: false`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        epoch: Option<Epoch>,
    },
    /// Unsubscribe from a room.
    Leave {
        /// The room.
        room: RoomName,
    },
    /// The user is typing in a room.
    Typing {
        /// The room.
        room: RoomName,
    },
    /// Set the display name of this identity.
    Profile {
        /// The new name.
        name: DisplayName,
    },
    /// Everything up to `seq` in a joined room has been read (protocol.md
    /// §12): moves the user's read watermark, which never moves back and is
    /// clamped to the room's head. No ack; others see a `receipt`.
    Read {
        /// The room.
        room: RoomName,
        /// The highest seq read.
        seq: Seq,
    },
    /// Replace the text of one's own message (protocol.md §13). Answered
    /// by an `ack`; others see an `events` frame.
    Edit {
        /// The room of the message.
        room: RoomName,
        /// The message.
        id: MessageId,
        /// The new text, under the rules of a message's.
        #[cfg_attr(feature = "typescript", ts(type = "string"))]
        content: Arc<str>,
        /// The client's id for this edit, for idempotent resend.
        client_id: ClientId,
    },
    /// Take back one's own message: its text is erased, a tombstone stays.
    Delete {
        /// The room of the message.
        room: RoomName,
        /// The message.
        id: MessageId,
        /// The client's id for this delete.
        client_id: ClientId,
    },
    /// Add (`on: true`) or remove a reaction to a message.
    React {
        /// The room of the message.
        room: RoomName,
        /// The message.
        id: MessageId,
        /// 1–32 bytes, no whitespace.
        emoji: Emoji,
        /// Add or remove.
        on: bool,
        /// The client's id for this reaction.
        client_id: ClientId,
    },
    /// This connection's person is away (its tab hidden or idle) or back
    /// (protocol.md §9): shown in presence once every connection of theirs
    /// is away. No answer.
    Status {
        /// Away, or back.
        away: bool,
    },
    /// Is the connection alive? Answered by a `pong` with the same `id`, in
    /// order with the connection's other answers (protocol.md §4): a
    /// browser cannot see WebSocket pings, so this is how a client notices
    /// a connection that died without a close.
    Ping {
        /// The client's tag for this ping, echoed in the `pong`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        id: Option<ClientId>,
    },
}

impl ClientFrame {
    /// The room and client id of an `edit`, `delete` or `react`.
    pub fn event_target(&self) -> Option<(&RoomName, &ClientId)> {
        match self {
            ClientFrame::Edit { room, client_id, .. }
            | ClientFrame::Delete { room, client_id, .. }
            | ClientFrame::React { room, client_id, .. } => Some((room, client_id)),
            _ => None,
        }
    }
}

/// One message as a client sends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct Draft {
    /// The text, trimmed.
    #[cfg_attr(feature = "typescript", ts(type = "string"))]
    pub content: Arc<str>,
    /// The client's id for it, for idempotent resend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub client_id: Option<ClientId>,
    /// The room; defaults to the connection's first room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub room: Option<RoomName>,
    /// The author; must be the connection's own identity when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub user_id: Option<UserId>,
    /// A message of the same room this one answers (protocol.md §13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub reply_to: Option<MessageId>,
    /// Files this sender uploaded, at most [`MAX_ATTACHMENTS`], each once
    /// (protocol.md §17). With some, `content` may be empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "typescript", ts(optional, as = "Option<Vec<FileId>>"))]
    pub attachments: Vec<FileId>,
}

impl ClientFrame {
    /// Encodes the frame as JSON text, e.g. for a client written in Rust.
    pub fn encode(&self) -> String {
        // A ClientFrame holds only strings, numbers and lists; serialising it
        // cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Decodes and validates one text frame against `limits`.
    pub fn decode(text: &str, limits: &Limits) -> Result<ClientFrame, DecodeError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| plain(ErrorCode::InvalidFrame, "the frame is not valid JSON", vec![format!("json: {e}")]))?;
        let Value::Object(obj) = value else {
            return Err(plain(
                ErrorCode::InvalidFrame,
                "a frame must be a JSON object",
                vec![format!("frame: must be an object, got {}", kind(&value))],
            ));
        };
        let ty = match obj.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(other) => {
                return Err(plain(
                    ErrorCode::InvalidFrame,
                    "the frame's type is not a string",
                    vec![format!("type: must be a string, got {}", kind(other))],
                ));
            }
            None => {
                return Err(plain(ErrorCode::InvalidFrame, "the frame has no type", vec!["type: is required".into()]));
            }
        };
        let mut p = Problems::default();
        let frame = match ty {
            "messages" => decode_messages(&obj, limits, &mut p),
            "join" => decode_join(&obj, &mut p),
            "leave" => p.room(&obj, "room").map(|room| ClientFrame::Leave { room }),
            "typing" => p.room(&obj, "room").map(|room| ClientFrame::Typing { room }),
            "profile" => p.display_name(&obj).map(|name| ClientFrame::Profile { name }),
            "read" => decode_read(&obj, &mut p),
            "edit" => decode_edit(&obj, limits, &mut p),
            "delete" => decode_delete(&obj, &mut p),
            "react" => decode_react(&obj, &mut p),
            "ping" => decode_ping(&obj, &mut p),
            "status" => decode_status(&obj, &mut p),
            other => {
                let shown: String = other.chars().take(32).collect();
                return Err(plain(
                    ErrorCode::UnknownType,
                    format!("unknown frame type {shown:?}"),
                    vec![
                        "type: must be one of messages, join, leave, typing, profile, read, edit, delete, react, ping"
                            .into(),
                    ],
                ));
            }
        };
        match frame {
            Some(frame) if p.list.is_empty() => Ok(frame),
            _ => Err(p.into_error(ty, &obj)),
        }
    }
}

fn plain(code: ErrorCode, message: impl Into<String>, details: Vec<String>) -> DecodeError {
    DecodeError {
        refusal: Refusal { details, ..Refusal::new(code, message) },
        frame_type: None,
        client_ids: Vec::new(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The problems found so far. `too_large` counts the ones that are only about
/// size, so a frame whose sole fault is size is answered `too_large`.
#[derive(Default)]
struct Problems {
    list: Vec<String>,
    too_large: usize,
}

impl Problems {
    fn push(&mut self, path: &str, problem: impl std::fmt::Display) {
        self.list.push(format!("{path}: {problem}"));
    }

    fn push_too_large(&mut self, path: &str, problem: impl std::fmt::Display) {
        self.too_large += 1;
        self.push(path, problem);
    }

    fn into_error(self, ty: &str, obj: &Map<String, Value>) -> DecodeError {
        let only_size = self.too_large == self.list.len() && !self.list.is_empty();
        let (code, message) = if only_size {
            (ErrorCode::TooLarge, format!("the {ty} frame is too large"))
        } else {
            (ErrorCode::InvalidFrame, format!("the {ty} frame is invalid"))
        };
        let frame_type = match ty {
            "messages" => Some(FrameType::Messages),
            "join" => Some(FrameType::Join),
            "leave" => Some(FrameType::Leave),
            "typing" => Some(FrameType::Typing),
            "profile" => Some(FrameType::Profile),
            "read" => Some(FrameType::Read),
            "edit" => Some(FrameType::Edit),
            "delete" => Some(FrameType::Delete),
            "react" => Some(FrameType::React),
            "ping" => Some(FrameType::Ping),
            "status" => Some(FrameType::Status),
            _ => None,
        };
        let client_ids = match (frame_type, obj.get("data")) {
            (Some(FrameType::Messages), Some(Value::Array(items))) => items
                .iter()
                .map(|item| item.get("client_id").and_then(Value::as_str).and_then(|s| ClientId::parse(s).ok()))
                .collect(),
            (Some(t), _) if t.is_acked() => obj
                .get("client_id")
                .and_then(Value::as_str)
                .and_then(|s| ClientId::parse(s).ok())
                .map(|c| vec![Some(c)])
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        DecodeError { refusal: Refusal { details: self.list, ..Refusal::new(code, message) }, frame_type, client_ids }
    }

    /// A required room name at `obj[key]`.
    fn room(&mut self, obj: &Map<String, Value>, key: &str) -> Option<RoomName> {
        match obj.get(key) {
            None | Some(Value::Null) => {
                self.push(key, "is required");
                None
            }
            Some(v) => self.room_value(key, v),
        }
    }

    fn room_value(&mut self, path: &str, v: &Value) -> Option<RoomName> {
        match v {
            Value::String(s) => RoomName::parse(s).map_err(|e| self.push(path, e)).ok(),
            other => {
                self.push(path, format_args!("must be a string, got {}", kind(other)));
                None
            }
        }
    }

    fn display_name(&mut self, obj: &Map<String, Value>) -> Option<DisplayName> {
        match obj.get("name") {
            None | Some(Value::Null) => {
                self.push("name", "is required");
                None
            }
            Some(Value::String(s)) => DisplayName::parse(s).map_err(|e| self.push("name", e)).ok(),
            Some(other) => {
                self.push("name", format_args!("must be a string, got {}", kind(other)));
                None
            }
        }
    }

    /// A required string at `obj[key]`, parsed by `parse`.
    fn required<T, E: std::fmt::Display>(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match obj.get(key) {
            None | Some(Value::Null) => {
                self.push(key, "is required");
                None
            }
            Some(Value::String(s)) => parse(s).map_err(|e| self.push(key, e)).ok(),
            Some(other) => {
                self.push(key, format_args!("must be a string, got {}", kind(other)));
                None
            }
        }
    }

    /// An optional non-negative integer at `obj[key]`.
    fn optional_u64(&mut self, obj: &Map<String, Value>, key: &str) -> Option<Option<u64>> {
        match obj.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(n) if n <= i64::MAX as u64 => Some(Some(n)),
                _ => {
                    self.push(key, "must be a non-negative integer below 2^63");
                    None
                }
            },
            Some(other) => {
                self.push(key, format_args!("must be a non-negative integer, got {}", kind(other)));
                None
            }
        }
    }
}

fn decode_join(obj: &Map<String, Value>, p: &mut Problems) -> Option<ClientFrame> {
    let room = p.room(obj, "room");
    let since_seq = p.optional_u64(obj, "since_seq");
    let epoch = p.optional_u64(obj, "epoch");
    Some(ClientFrame::Join { room: room?, since_seq: since_seq?.map(Seq), epoch: epoch?.map(Epoch) })
}

fn decode_read(obj: &Map<String, Value>, p: &mut Problems) -> Option<ClientFrame> {
    let room = p.room(obj, "room");
    let seq = match p.optional_u64(obj, "seq") {
        Some(None) => {
            p.push("seq", "is required");
            None
        }
        seq => seq.flatten(),
    };
    Some(ClientFrame::Read { room: room?, seq: Seq(seq?) })
}

fn decode_status(obj: &Map<String, Value>, p: &mut Problems) -> Option<ClientFrame> {
    match obj.get("away") {
        Some(Value::Bool(away)) => Some(ClientFrame::Status { away: *away }),
        None | Some(Value::Null) => {
            p.push("away", "is required");
            None
        }
        Some(other) => {
            p.push("away", format_args!("must be true or false, got {}", kind(other)));
            None
        }
    }
}

fn decode_ping(obj: &Map<String, Value>, p: &mut Problems) -> Option<ClientFrame> {
    let id = match obj.get("id") {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => ClientId::parse(s).map(Some).map_err(|e| p.push("id", e)).ok(),
        Some(other) => {
            p.push("id", format_args!("must be a string, got {}", kind(other)));
            None
        }
    };
    Some(ClientFrame::Ping { id: id? })
}

fn decode_edit(obj: &Map<String, Value>, limits: &Limits, p: &mut Problems) -> Option<ClientFrame> {
    let room = p.room(obj, "room");
    let id = p.required(obj, "id", MessageId::parse);
    let content = match obj.get("content") {
        None | Some(Value::Null) => {
            p.push("content", "is required");
            None
        }
        Some(Value::String(s)) => validate_content(s, limits)
            .map_err(
                |(too_large, problem)| {
                    if too_large { p.push_too_large("content", problem) } else { p.push("content", problem) }
                },
            )
            .ok(),
        Some(other) => {
            p.push("content", format_args!("must be a string, got {}", kind(other)));
            None
        }
    };
    let client_id = p.required(obj, "client_id", ClientId::parse);
    Some(ClientFrame::Edit { room: room?, id: id?, content: content?, client_id: client_id? })
}

fn decode_delete(obj: &Map<String, Value>, p: &mut Problems) -> Option<ClientFrame> {
    let room = p.room(obj, "room");
    let id = p.required(obj, "id", MessageId::parse);
    let client_id = p.required(obj, "client_id", ClientId::parse);
    Some(ClientFrame::Delete { room: room?, id: id?, client_id: client_id? })
}

fn decode_react(obj: &Map<String, Value>, p: &mut Problems) -> Option<ClientFrame> {
    let room = p.room(obj, "room");
    let id = p.required(obj, "id", MessageId::parse);
    let emoji = p.required(obj, "emoji", Emoji::parse);
    let on = match obj.get("on") {
        Some(Value::Bool(on)) => Some(*on),
        None | Some(Value::Null) => {
            p.push("on", "is required");
            None
        }
        Some(other) => {
            p.push("on", format_args!("must be a boolean, got {}", kind(other)));
            None
        }
    };
    let client_id = p.required(obj, "client_id", ClientId::parse);
    Some(ClientFrame::React { room: room?, id: id?, emoji: emoji?, on: on?, client_id: client_id? })
}

fn decode_messages(obj: &Map<String, Value>, limits: &Limits, p: &mut Problems) -> Option<ClientFrame> {
    let items = match obj.get("data") {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => {
            p.push("data", "is required");
            return None;
        }
        Some(other) => {
            p.push("data", format_args!("must be an array, got {}", kind(other)));
            return None;
        }
    };
    if items.is_empty() {
        p.push("data", "must hold at least one message");
        return None;
    }
    if items.len() > limits.max_batch {
        p.push_too_large(
            "data",
            format_args!("holds {} messages, at most {} are allowed", items.len(), limits.max_batch),
        );
        return None;
    }
    let mut drafts = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(draft) = decode_draft(i, item, limits, p) {
            drafts.push(draft);
        }
    }
    (drafts.len() == items.len()).then_some(ClientFrame::Messages { data: drafts })
}

fn decode_draft(i: usize, item: &Value, limits: &Limits, p: &mut Problems) -> Option<Draft> {
    let Value::Object(obj) = item else {
        p.push(&format!("data[{i}]"), format_args!("must be an object, got {}", kind(item)));
        return None;
    };
    let path = |field: &str| format!("data[{i}].{field}");
    let attachments = decode_attachments(obj.get("attachments"), &path("attachments"), p);
    let files_alone = attachments.as_ref().is_some_and(|a| !a.is_empty());
    let content = match obj.get("content") {
        None | Some(Value::Null) if files_alone => Some(Arc::from("")),
        None | Some(Value::Null) => {
            p.push(&path("content"), "is required");
            None
        }
        Some(Value::String(s)) if files_alone && s.trim().is_empty() => Some(Arc::from("")),
        Some(Value::String(s)) => validate_content(s, limits)
            .map_err(|(too_large, problem)| {
                if too_large { p.push_too_large(&path("content"), problem) } else { p.push(&path("content"), problem) }
            })
            .ok(),
        Some(other) => {
            p.push(&path("content"), format_args!("must be a string, got {}", kind(other)));
            None
        }
    };
    let client_id = match obj.get("client_id") {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => ClientId::parse(s).map(Some).map_err(|e| p.push(&path("client_id"), e)).ok(),
        Some(other) => {
            p.push(&path("client_id"), format_args!("must be a string, got {}", kind(other)));
            None
        }
    };
    let room = match obj.get("room") {
        None | Some(Value::Null) => Some(None),
        Some(v) => p.room_value(&path("room"), v).map(Some),
    };
    let user_id = match obj.get("user_id") {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => UserId::parse(s).map(Some).map_err(|e| p.push(&path("user_id"), e)).ok(),
        Some(other) => {
            p.push(&path("user_id"), format_args!("must be a string, got {}", kind(other)));
            None
        }
    };
    let reply_to = match obj.get("reply_to") {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => MessageId::parse(s).map(Some).map_err(|e| p.push(&path("reply_to"), e)).ok(),
        Some(other) => {
            p.push(&path("reply_to"), format_args!("must be a string, got {}", kind(other)));
            None
        }
    };
    Some(Draft {
        content: content?,
        client_id: client_id?,
        room: room?,
        user_id: user_id?,
        reply_to: reply_to?,
        attachments: attachments?,
    })
}

/// A draft's `attachments`: distinct file ids, at most [`MAX_ATTACHMENTS`].
fn decode_attachments(value: Option<&Value>, at: &str, p: &mut Problems) -> Option<Vec<FileId>> {
    let items = match value {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            p.push(at, format_args!("must be an array of file ids, got {}", kind(other)));
            return None;
        }
    };
    if items.len() > MAX_ATTACHMENTS {
        p.push(at, format_args!("has {} files, at most {MAX_ATTACHMENTS} are allowed", items.len()));
        return None;
    }
    let mut ids = Vec::with_capacity(items.len());
    for (j, item) in items.iter().enumerate() {
        let id = match item {
            Value::String(s) => FileId::parse(s).map_err(|e| p.push(&format!("{at}[{j}]"), e)).ok()?,
            other => {
                p.push(&format!("{at}[{j}]"), format_args!("must be a string, got {}", kind(other)));
                return None;
            }
        };
        if ids.contains(&id) {
            p.push(&format!("{at}[{j}]"), format_args!("names file {id} twice"));
            return None;
        }
        ids.push(id);
    }
    Some(ids)
}

/// Trims `s` and checks the content rules of protocol.md §10. The error says whether the
/// only fault is length.
pub(crate) fn validate_content(s: &str, limits: &Limits) -> Result<Arc<str>, (bool, String)> {
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err((false, "must not be empty".into()));
    }
    // Newlines and tabs are text; other control characters are not, and are
    // refused rather than stripped so that what is stored is what was sent.
    if let Some(c) = trimmed.chars().find(|&c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err((false, format!("must not contain control character U+{:04X}", c as u32)));
    }
    // Count characters only when the byte length could exceed the limit.
    if trimmed.len() > limits.max_content_chars {
        let chars = trimmed.chars().count();
        if chars > limits.max_content_chars {
            return Err((
                true,
                format!("is {chars} characters long, at most {} are allowed", limits.max_content_chars),
            ));
        }
    }
    Ok(Arc::from(trimmed))
}
