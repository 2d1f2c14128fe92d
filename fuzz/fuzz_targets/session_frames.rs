//! One session driven by a hostile client: a bounded list of inbound items
//! (arbitrary text, near-valid JSON frames built from arbitrary field values,
//! binary / oversize / non-UTF-8 frames, pongs, pauses and a server shutdown)
//! goes through `whisper_core::session::run` over channels, on a
//! current-thread tokio runtime with a paused clock (fast and deterministic:
//! pauses and heartbeats cost no real time).
//!
//! Inputs that start with `{` are read as one item per line instead (see
//! `Input::from_lines`), so the seeds in `seeds/session_frames/` are readable
//! frames that the fuzzer mutates as text; all others go through `arbitrary`.
//!
//! Properties:
//! - the session never panics and always ends (within a virtual day);
//! - the first frame is `welcome` with the connection's identity;
//! - every outgoing frame decodes as a `ServerFrame`, and re-encoding it
//!   decodes to the same frame;
//! - at most one `Close`, only as the last thing written, with a code of
//!   `session::close`, exactly when `SessionEnd::close_code` says so;
//! - the session ends `ClientGone` only if the client sent nothing that
//!   closes the connection, and ends `BinaryFrame` / `FrameTooLarge` /
//!   `InvalidUtf8` / `Shutdown` only if the client did send such an item;
//! - every `message_ids` answer is well-formed (success: one id per message
//!   and no error; error: no ids and an error), and the answers are, in
//!   order, a prefix of the `messages` frames the client sent (their
//!   client_ids as sent); when the session ended because the client left,
//!   after a pause in which the store could commit, every `messages` frame
//!   got exactly one answer.
#![no_main]

use std::sync::Arc;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use futures_util::Stream;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;
use whisper_core::codec::{AckStatus, ClientFrame, FrameType, ServerFrame};
use whisper_core::model::{ClientId, RoomName, UserId};
use whisper_core::session::{self, Connection, Inbound, Outgoing, SessionEnd, close};
use whisper_core::store::MemoryStore;
use whisper_core::testing::outgoing_channel;
use whisper_core::{Chat, Limits};

/// Most inbound items one run handles.
const MAX_ITEMS: usize = 64;
/// The connection's own identity (a fixed UUID v4, so runs reproduce).
const ME: &str = "0b6f2a4e-5b8c-4d2e-9f3a-1c2d3e4f5a6b";
/// Another user's identity.
const OTHER: &str = "7d3e8f10-2a4b-4c6d-8e0f-a1b2c3d4e5f6";
/// A valid UUID that is not version 4.
const NOT_V4: &str = "7d3e8f10-2a4b-1c6d-8e0f-a1b2c3d4e5f6";
/// Rooms the grammar picks from, so frames meet each other's rooms.
const ROOMS: &[&str] = &["lobby", "general", "acme/dev", "a", "x-y_z"];
/// More than any `max_frame_bytes` used here: bigger frames add nothing.
const MAX_FRAME_BYTES_EVER: usize = 64 * 1024 + 1;
/// How long the client waits after its last item before it leaves: with a
/// paused clock this lets every store commit in flight be acked.
const SETTLE: Duration = Duration::from_millis(1);

#[derive(Arbitrary, Debug)]
struct Input {
    /// Small limits (batch, rooms, rates, frame size, outbox) instead of the defaults.
    tight: bool,
    start_room: Option<RoomSpec>,
    items: Vec<Item>,
}

#[derive(Arbitrary, Debug)]
enum Item {
    /// Any text as a text frame.
    Raw(String),
    /// A near-valid JSON frame; `Some(n)` cuts the text to its first `n` bytes.
    Frame(FrameSpec, Option<u16>),
    /// A `messages` frame with the same draft `count` times (batch limits),
    /// fewer if that is over the frame size limit anyway.
    Batch(DraftSpec, u8),
    /// A `messages` frame whose one content is `len` copies of `c`
    /// (content and frame size limits).
    Huge(char, u16),
    Binary,
    TooLarge,
    InvalidUtf8,
    Pong,
    /// The client pauses this many milliseconds (virtual time; heartbeats).
    Pause(u16),
    /// The server shuts down.
    Shutdown,
}

#[derive(Arbitrary, Debug)]
enum FrameSpec {
    Messages(Field<Vec<DraftSpec>>),
    Join { room: Field<RoomSpec>, since_seq: Field<Num>, epoch: Field<Num> },
    Leave(Field<RoomSpec>),
    Typing(Field<RoomSpec>),
    Profile(Field<Text>),
    UnknownType(String),
    WrongType(Wrong),
    NoType(Field<RoomSpec>),
    NotAnObject(Wrong),
}

#[derive(Arbitrary, Debug)]
struct DraftSpec {
    content: Field<Text>,
    client_id: Field<ClientIdSpec>,
    room: Field<RoomSpec>,
    user_id: Field<UserSpec>,
}

/// A field: left out, `null`, a value of the right kind, or one of another kind.
#[derive(Arbitrary, Debug)]
enum Field<T> {
    Absent,
    Null,
    Value(T),
    Wrong(Wrong),
}

#[derive(Arbitrary, Debug)]
enum Wrong {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    EmptyArray,
    EmptyObject,
}

#[derive(Arbitrary, Debug)]
enum RoomSpec {
    Pick(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Num {
    Small(u8),
    Any(u64),
    Negative(i64),
    Float(f64),
}

#[derive(Arbitrary, Debug)]
enum Text {
    Raw(String),
    Repeat(char, u16),
}

#[derive(Arbitrary, Debug)]
enum ClientIdSpec {
    Pick(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum UserSpec {
    Me,
    Other,
    NotV4,
    Raw(String),
}

trait ToJson {
    fn to_json(&self) -> Value;
}

impl ToJson for Wrong {
    fn to_json(&self) -> Value {
        match self {
            Wrong::Bool(b) => json!(b),
            Wrong::Int(i) => json!(i),
            // NaN and infinities become null.
            Wrong::Float(f) => json!(f),
            Wrong::Str(s) => json!(s),
            Wrong::EmptyArray => json!([]),
            Wrong::EmptyObject => json!({}),
        }
    }
}

impl ToJson for RoomSpec {
    fn to_json(&self) -> Value {
        match self {
            RoomSpec::Pick(i) => json!(ROOMS[*i as usize % ROOMS.len()]),
            RoomSpec::Raw(s) => json!(s),
        }
    }
}

impl ToJson for Num {
    fn to_json(&self) -> Value {
        match self {
            Num::Small(n) => json!(n),
            Num::Any(n) => json!(n),
            Num::Negative(n) => json!(n),
            Num::Float(f) => json!(f),
        }
    }
}

impl ToJson for Text {
    fn to_json(&self) -> Value {
        match self {
            Text::Raw(s) => json!(s),
            // Up to just past the default content limit (4000 characters).
            Text::Repeat(c, n) => json!(std::iter::repeat_n(*c, *n as usize % 4097).collect::<String>()),
        }
    }
}

impl ToJson for ClientIdSpec {
    fn to_json(&self) -> Value {
        match self {
            ClientIdSpec::Pick(i) => json!(format!("c-{}", i % 8)),
            ClientIdSpec::Raw(s) => json!(s),
        }
    }
}

impl ToJson for UserSpec {
    fn to_json(&self) -> Value {
        match self {
            UserSpec::Me => json!(ME),
            UserSpec::Other => json!(OTHER),
            UserSpec::NotV4 => json!(NOT_V4),
            UserSpec::Raw(s) => json!(s),
        }
    }
}

impl ToJson for DraftSpec {
    fn to_json(&self) -> Value {
        let mut obj = Map::new();
        put(&mut obj, "content", &self.content);
        put(&mut obj, "client_id", &self.client_id);
        put(&mut obj, "room", &self.room);
        put(&mut obj, "user_id", &self.user_id);
        Value::Object(obj)
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(ToJson::to_json).collect())
    }
}

fn put<T: ToJson>(obj: &mut Map<String, Value>, key: &str, field: &Field<T>) {
    let value = match field {
        Field::Absent => return,
        Field::Null => Value::Null,
        Field::Value(v) => v.to_json(),
        Field::Wrong(w) => w.to_json(),
    };
    obj.insert(key.to_owned(), value);
}

fn frame(ty: &str, fields: impl FnOnce(&mut Map<String, Value>)) -> Value {
    let mut obj = Map::new();
    obj.insert("type".into(), json!(ty));
    fields(&mut obj);
    Value::Object(obj)
}

impl FrameSpec {
    fn to_text(&self) -> String {
        let value = match self {
            FrameSpec::Messages(data) => frame("messages", |o| put(o, "data", data)),
            FrameSpec::Join { room, since_seq, epoch } => frame("join", |o| {
                put(o, "room", room);
                put(o, "since_seq", since_seq);
                put(o, "epoch", epoch);
            }),
            FrameSpec::Leave(room) => frame("leave", |o| put(o, "room", room)),
            FrameSpec::Typing(room) => frame("typing", |o| put(o, "room", room)),
            FrameSpec::Profile(name) => frame("profile", |o| put(o, "name", name)),
            FrameSpec::UnknownType(ty) => frame(ty, |_| {}),
            FrameSpec::WrongType(w) => json!({ "type": w.to_json(), "room": "lobby" }),
            FrameSpec::NoType(room) => {
                let mut obj = Map::new();
                put(&mut obj, "room", room);
                Value::Object(obj)
            }
            FrameSpec::NotAnObject(w) => w.to_json(),
        };
        value.to_string()
    }
}

/// What the client's stream does, in order.
enum Step {
    Send(Inbound<String>),
    Pause(Duration),
    Shutdown,
}

fn steps(items: &[Item]) -> Vec<Step> {
    items
        .iter()
        .take(MAX_ITEMS)
        .map(|item| match item {
            Item::Raw(s) => Step::Send(Inbound::Text(s.clone())),
            Item::Frame(spec, cut) => {
                let mut text = spec.to_text();
                if let Some(n) = cut {
                    let mut n = (*n as usize).min(text.len());
                    while !text.is_char_boundary(n) {
                        n -= 1;
                    }
                    text.truncate(n);
                }
                Step::Send(Inbound::Text(text))
            }
            Item::Batch(draft, count) => {
                // Stops adding copies once the frame is over the size limit
                // anyway: it is refused as too large all the same.
                let one = draft.to_json();
                let each = one.to_string().len() + 1;
                let count = (*count as usize).min(MAX_FRAME_BYTES_EVER / each + 1);
                let data: Vec<Value> = vec![one; count];
                Step::Send(Inbound::Text(json!({ "type": "messages", "data": data }).to_string()))
            }
            Item::Huge(c, len) => {
                let content: String = std::iter::repeat_n(*c, *len as usize).collect();
                Step::Send(Inbound::Text(json!({ "type": "messages", "data": [{ "content": content }] }).to_string()))
            }
            Item::Binary => Step::Send(Inbound::Binary),
            Item::TooLarge => Step::Send(Inbound::TooLarge),
            Item::InvalidUtf8 => Step::Send(Inbound::InvalidUtf8),
            Item::Pong => Step::Send(Inbound::Pong),
            Item::Pause(ms) => Step::Pause(Duration::from_millis(u64::from(*ms))),
            Item::Shutdown => Step::Shutdown,
        })
        .collect()
}

fn limits(tight: bool) -> Limits {
    if !tight {
        return Limits::default();
    }
    Limits {
        max_content_chars: 16,
        max_frame_bytes: 512,
        max_batch: 3,
        messages_per_second: 2,
        message_burst: 4,
        control_frames_per_second: 2,
        control_frame_burst: 4,
        max_recover: 2,
        max_rooms_per_connection: 2,
        max_posts_in_flight: 1,
        outbox_capacity: 4,
        ..Limits::default()
    }
}

/// The client's side of the connection: the steps, then a short pause, then
/// the stream ends (the client leaves).
fn inbound(steps: Vec<Step>, shutdown: oneshot::Sender<()>) -> impl Stream<Item = Inbound<String>> + Unpin {
    let state = (steps.into_iter(), Some(shutdown));
    Box::pin(futures_util::stream::unfold(state, |(mut steps, mut shutdown)| async move {
        loop {
            match steps.next() {
                Some(Step::Send(frame)) => return Some((frame, (steps, shutdown))),
                Some(Step::Pause(d)) => tokio::time::sleep(d).await,
                Some(Step::Shutdown) => {
                    if let Some(tx) = shutdown.take() {
                        let _ = tx.send(());
                    }
                }
                None => {
                    tokio::time::sleep(SETTLE).await;
                    return None;
                }
            }
        }
    }))
}

/// The `messages` frame answer the session owes for a text frame, as the
/// client_ids it must carry; `None` if the text is not a `messages` frame.
fn owed_answer(text: &str, limits: &Limits) -> Option<Vec<Option<ClientId>>> {
    match ClientFrame::decode(text, limits) {
        Ok(ClientFrame::Messages { data }) => Some(data.into_iter().map(|d| d.client_id).collect()),
        Ok(_) => None,
        Err(e) if e.frame_type == Some(FrameType::Messages) => Some(e.client_ids),
        Err(_) => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let input = if data.first() == Some(&b'{') {
        Input::from_lines(data)
    } else {
        match Input::arbitrary_take_rest(Unstructured::new(data)) {
            Ok(input) => input,
            Err(_) => return,
        }
    };
    check(input);
});

impl Input {
    /// Text mode, for readable seeds: an input that starts with `{` is one
    /// item per line, sent on a connection that joined `lobby`: a text frame,
    /// or a non-UTF-8 line (sent as `InvalidUtf8`), or one of `#binary`,
    /// `#too_large`, `#pong`, `#shutdown`, `#pause <ms>`.
    fn from_lines(data: &[u8]) -> Input {
        let items = data
            .strip_suffix(b"\n")
            .unwrap_or(data)
            .split(|&b| b == b'\n')
            .map(|line| match std::str::from_utf8(line) {
                Err(_) => Item::InvalidUtf8,
                Ok("#binary") => Item::Binary,
                Ok("#too_large") => Item::TooLarge,
                Ok("#pong") => Item::Pong,
                Ok("#shutdown") => Item::Shutdown,
                Ok(text) => match text.strip_prefix("#pause ").and_then(|ms| ms.parse().ok()) {
                    Some(ms) => Item::Pause(ms),
                    None => Item::Raw(text.to_owned()),
                },
            })
            .collect();
        Input { tight: false, start_room: Some(RoomSpec::Pick(0)), items }
    }
}

fn check(input: Input) {
    let limits = limits(input.tight);
    let steps = steps(&input.items);

    // What the steps say about how the session may end.
    let mut owed = Vec::new();
    let (mut binary, mut too_large, mut invalid_utf8, mut shutdown_sent) = (false, false, false, false);
    for step in &steps {
        match step {
            Step::Send(Inbound::Text(t)) if t.len() > limits.max_frame_bytes => too_large = true,
            Step::Send(Inbound::Text(t)) => owed.extend(owed_answer(t, &limits)),
            Step::Send(Inbound::Binary) => binary = true,
            Step::Send(Inbound::TooLarge) => too_large = true,
            Step::Send(Inbound::InvalidUtf8) => invalid_utf8 = true,
            Step::Send(Inbound::Pong | Inbound::Ping | Inbound::ProtocolError) | Step::Pause(_) => {}
            Step::Shutdown => shutdown_sent = true,
        }
    }
    let closing_item = binary || too_large || invalid_utf8 || shutdown_sent;

    let me = UserId::parse(ME).unwrap();
    let token = "fuzz-token".to_owned();
    let room = input.start_room.as_ref().and_then(|r| r.to_json().as_str().and_then(|s| RoomName::parse(s).ok()));
    let conn = Connection { token: Some(token.clone()), ..Connection::guest(me, room) };

    // A fresh runtime per input: no task of an earlier input can act in this one.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a tokio runtime");
    let (outgoing, mut out_rx) = outgoing_channel();
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let end = runtime.block_on(async {
        let chat = Chat::builder(Arc::new(MemoryStore::new())).limits(limits.clone()).build();
        let shutdown = async move {
            // A dropped sender (no Shutdown item) never shuts down.
            if shutdown_rx.await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let session = session::run(chat, conn, inbound(steps, shutdown_tx), outgoing, shutdown);
        tokio::time::timeout(Duration::from_secs(24 * 3600), session).await.expect("the session did not end")
    });
    drop(runtime);

    let mut written = Vec::new();
    while let Ok(out) = out_rx.try_recv() {
        written.push(out);
    }
    if std::env::var_os("WHISPER_FUZZ_TRACE").is_some() {
        eprintln!("input: {input:#?}\nended: {end:?}");
        for out in &written {
            match out {
                Outgoing::Frame(f) => eprintln!("  <- {}", f.to_text()),
                other => eprintln!("  <- {other:?}"),
            }
        }
    }

    // How it ended.
    match end {
        SessionEnd::ClientGone => assert!(!closing_item, "ended as ClientGone although the client sent a closing item"),
        SessionEnd::BinaryFrame => assert!(binary),
        SessionEnd::FrameTooLarge => assert!(too_large),
        SessionEnd::InvalidUtf8 => assert!(invalid_utf8),
        SessionEnd::Shutdown => assert!(shutdown_sent),
        SessionEnd::WriteFailed => panic!("the sink never fails, yet the write failed"),
        SessionEnd::SlowConsumer | SessionEnd::Unresponsive => {}
        // Refused frames in a row past `flood_refusals` (tiny limits make it reachable).
        SessionEnd::Flooding => {}
        SessionEnd::WriteTimeout => panic!("the sink never blocks, yet a write timed out"),
        SessionEnd::PingFlood | SessionEnd::ProtocolError => {
            panic!("ended as {end:?} without a ping or a protocol error")
        }
        // Only the application acts on a user's connections; nothing here does.
        SessionEnd::Revoked | SessionEnd::Disconnected => panic!("ended as {end:?} with no application to act"),
    }

    // Close: at most one, last, with a known code, exactly as `end` says.
    let closes: Vec<(usize, u16)> = written
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o {
            Outgoing::Close { code, .. } => Some((i, *code)),
            _ => None,
        })
        .collect();
    assert!(closes.len() <= 1, "more than one close: {closes:?}");
    if let Some(&(i, code)) = closes.first() {
        assert_eq!(i, written.len() - 1, "something was written after the close");
        let known = [
            close::GOING_AWAY,
            close::UNSUPPORTED_DATA,
            close::INVALID_PAYLOAD,
            close::MESSAGE_TOO_BIG,
            close::TRY_AGAIN_LATER,
            close::POLICY_VIOLATION,
        ];
        assert!(known.contains(&code), "unknown close code {code}");
    }
    assert_eq!(closes.first().map(|c| c.1), end.close_code(), "close frame vs session end {end:?}");

    // Frames: all decode and round-trip; welcome first; acks in order.
    let mut acks: Vec<Vec<Option<ClientId>>> = Vec::new();
    let mut first = true;
    for out in &written {
        let Outgoing::Frame(f) = out else { continue };
        let text = f.to_text();
        let frame = match ServerFrame::decode(text) {
            Ok(frame) => frame,
            Err(e) => panic!("the session wrote a frame that does not decode ({e}): {text}"),
        };
        let again = ServerFrame::decode(frame.encode().to_text()).expect("a re-encoded frame decodes");
        assert_eq!(again, frame, "server frame round trip of {text}");
        if first {
            let ServerFrame::Welcome { user_id, token: t, .. } = &frame else {
                panic!("first frame is not welcome: {text}")
            };
            assert_eq!(*user_id, me);
            assert_eq!(t.as_ref(), token);
            first = false;
        }
        if let ServerFrame::MessageIds { status, message_ids, client_ids, error } = frame {
            match status {
                AckStatus::Success => {
                    assert!(error.is_none(), "a successful ack with an error: {text}");
                    assert_eq!(message_ids.len(), client_ids.len(), "one id per message: {text}");
                }
                AckStatus::Error => {
                    assert!(message_ids.is_empty(), "a failed ack with ids: {text}");
                    assert!(error.is_some(), "a failed ack without an error: {text}");
                }
            }
            acks.push(client_ids);
        }
    }
    assert!(!first, "no welcome was written");
    assert!(acks.len() <= owed.len(), "{} message_ids answers for {} messages frames", acks.len(), owed.len());
    assert_eq!(acks[..], owed[..acks.len()], "message_ids answers out of order or with other client_ids");
    if end == SessionEnd::ClientGone {
        assert_eq!(acks.len(), owed.len(), "a messages frame went unanswered although the client left cleanly");
    }
}
