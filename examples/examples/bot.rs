//! A bot: connects to a running WhisperChat server over WebSocket, joins a
//! room, and answers every message that mentions it (`@bot`, any case),
//! streaming a long reply progressively.
//!
//! Run with: `cargo run -p whisper-examples --example bot -- [SERVER] [ROOM] [NAME]`
//! (defaults: `ws://127.0.0.1:8080`, `lobby`, `bot`), then say
//! `hi @bot tell me something` in that room, e.g. from `make run`'s web client
//! or `cargo run -p whisper-examples --example chat_cli`.
//!
//! # How it answers
//!
//! The protocol has no message edits, so a streamed reply is several messages:
//! while the reply generator works the bot sends `typing` notices (about once
//! a second, the rate the server relays them at), and it posts each chunk the
//! generator yields — a paragraph, or a few sentences — as its own message,
//! in order. Each chunk has its own `client_id`, derived from the id of the
//! message it answers, and the bot sends one at a time: the next goes only
//! after the previous one's `message_ids` ack. It paces itself with the
//! `messages_per_second`/`message_burst` of `welcome.limits`, and when the
//! server still answers `rate_limited` it waits the time the refusal names
//! and sends the same chunk again. A chunk longer than `max_content_chars` is
//! split.
//!
//! It answers each mention once: it remembers the last `seq` it saw in the
//! room and drops anything at or below it. When the connection breaks it
//! reconnects with its `token` (so it keeps its identity, and resent chunks
//! are recognised by their `client_id`s) and `join`s with `since_seq`, so the
//! server replays exactly what it missed. It ignores its own messages and
//! those that do not mention it. A bot that starts afresh answers only what
//! is said after it joined.
//!
//! # Plugging in a model
//!
//! Replies come from a [`Replies`] implementation: given a [`Prompt`], a
//! stream of chunks. This example ships [`WordCount`], which is deterministic
//! (the tests assert its exact text). An LLM behind an OpenAI-compatible
//! streaming chat completions endpoint fits the same trait: it posts the
//! prompt with `"stream": true`, reads the server-sent events, whose
//! `choices[0].delta.content` carry the next tokens, until `data: [DONE]`,
//! and groups the tokens into chunks with [`paragraphs`]. A sketch, with
//! `reqwest` (not a dependency of this crate):
//!
//! ```ignore
//! struct Llm { http: reqwest::Client, base_url: String, api_key: String, model: String }
//!
//! enum Sse { Start(reqwest::RequestBuilder), Reading(reqwest::Response, Vec<u8>), Done }
//!
//! impl Replies for Llm {
//!     fn reply(&self, prompt: &Prompt) -> BoxStream<'static, String> {
//!         let request = self.http
//!             .post(format!("{}/v1/chat/completions", self.base_url))
//!             .bearer_auth(&self.api_key)
//!             .json(&serde_json::json!({
//!                 "model": self.model,
//!                 "stream": true,
//!                 "messages": [
//!                     {"role": "system", "content": format!(
//!                         "You are {}, a bot in the chat room {}. Answer in short paragraphs, as plain text.",
//!                         prompt.bot, prompt.room)},
//!                     {"role": "user", "content": format!("{} asks: {}", prompt.from, prompt.question())},
//!                 ],
//!             }));
//!         // The tokens as they arrive: one SSE line `data: {json}` at a time.
//!         let tokens = futures_util::stream::unfold(Sse::Start(request), |state| async move {
//!             let (mut response, mut buf) = match state {
//!                 Sse::Start(request) => match request.send().await.and_then(|r| r.error_for_status()) {
//!                     Ok(response) => (response, Vec::new()),
//!                     Err(e) => return Some((format!("(sorry, I cannot think right now: {e})"), Sse::Done)),
//!                 },
//!                 Sse::Reading(response, buf) => (response, buf),
//!                 Sse::Done => return None,
//!             };
//!             loop {
//!                 if let Some(end) = buf.iter().position(|&b| b == b'\n') {
//!                     let line: Vec<u8> = buf.drain(..=end).collect();
//!                     let line = String::from_utf8_lossy(&line);
//!                     let Some(data) = line.trim().strip_prefix("data:").map(str::trim) else { continue };
//!                     if data == "[DONE]" {
//!                         return None;
//!                     }
//!                     let event: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
//!                     if let Some(text) = event["choices"][0]["delta"]["content"].as_str() {
//!                         return Some((text.to_owned(), Sse::Reading(response, buf)));
//!                     }
//!                     continue; // role-only or empty deltas
//!                 }
//!                 match response.chunk().await {
//!                     Ok(Some(bytes)) => buf.extend_from_slice(&bytes),
//!                     Ok(None) => return None,
//!                     Err(e) => return Some((format!("\n\n(my answer broke off: {e})"), Sse::Done)),
//!                 }
//!             }
//!         });
//!         paragraphs(tokens)
//!     }
//! }
//! ```
//!
//! and `run(config, Arc::new(Llm { … }), shutdown)` in place of
//! `Arc::new(WordCount::new(…))`. The request is only built in `reply`; it is
//! sent when the bot first polls the stream, and the bot keeps reading the
//! room (and answering pings) while it waits for tokens.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use whisper_core::Limits;
use whisper_core::codec::{AckStatus, ClientFrame, Draft, ErrorCode, Refusal, ServerFrame};
use whisper_core::limits::WireLimits;
use whisper_core::model::{ClientId, DisplayName, Epoch, Message, MessageId, RoomName, Seq, UserId};

/// A message that mentions the bot: what a [`Replies`] answers.
#[derive(Clone, Debug)]
pub struct Prompt {
    /// The room it was said in.
    pub room: RoomName,
    /// Its position in the room.
    pub seq: Seq,
    /// Its id (the bot's chunks take their client ids from it).
    pub id: MessageId,
    /// Who said it.
    pub from: DisplayName,
    /// What they said, mention included.
    pub content: String,
    /// The bot's name, as mentioned.
    pub bot: String,
}

impl Prompt {
    /// The message with every mention of the bot taken out and whitespace
    /// collapsed: `"hi @bot tell me something"` → `"hi tell me something"`.
    pub fn question(&self) -> String {
        let mut text = String::with_capacity(self.content.len());
        let mut from = 0;
        for (start, end) in mentions(&self.content, &self.bot) {
            text.push_str(&self.content[from..start]);
            text.push(' ');
            from = end;
        }
        text.push_str(&self.content[from..]);
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Where replies come from: a stream of chunks, each posted as one message,
/// in order. A chunk should be a paragraph or a few sentences; the bot splits
/// any over the server's `max_content_chars` and skips blank ones.
pub trait Replies: Send + Sync + 'static {
    /// The reply to `prompt`. The stream is polled while the bot keeps
    /// serving the connection, so it may take its time between chunks.
    fn reply(&self, prompt: &Prompt) -> BoxStream<'static, String>;
}

/// The deterministic reply generator: repeats the question, counts its words
/// and adds a canned paragraph, "typing" it one word at a time.
#[derive(Clone, Debug)]
pub struct WordCount {
    /// How long each word takes to "generate".
    pub pause: Duration,
}

impl WordCount {
    /// A generator that takes `pause` per word.
    pub fn new(pause: Duration) -> Self {
        WordCount { pause }
    }

    /// The whole reply to `prompt`, paragraph by paragraph.
    pub fn paragraphs_for(prompt: &Prompt) -> Vec<String> {
        let question = prompt.question();
        let words: Vec<&str> = question.split_whitespace().collect();
        let mut by_length = words.clone();
        by_length.sort_by_key(|w| std::cmp::Reverse(w.chars().count())); // stable: ties keep their order
        let counted = match by_length.first() {
            None => "You only said my name, so there are no words to count.".to_string(),
            Some(longest) => format!(
                "That is {} word{}. The longest is \"{longest}\" ({} letters), and from longest to shortest they are: {}.",
                words.len(),
                if words.len() == 1 { "" } else { "s" },
                longest.chars().count(),
                by_length.join(", "),
            ),
        };
        vec![
            format!("{}, you asked me: \"{question}\".", prompt.from),
            counted,
            "While you wait, something true about this room: every message has a seq, one more than the \
             message before it, so whoever has seen seq n has seen everything before it. That is how I \
             answer each question once, even after I lose my connection."
                .to_string(),
            format!("That was my answer to message #{}, in four parts.", prompt.seq),
        ]
    }
}

impl Replies for WordCount {
    fn reply(&self, prompt: &Prompt) -> BoxStream<'static, String> {
        let text = WordCount::paragraphs_for(prompt).join("\n\n");
        // Tokens as a model would produce them: a word and the whitespace after it.
        let tokens: Vec<String> = text.split_inclusive(char::is_whitespace).map(str::to_owned).collect();
        let pause = self.pause;
        paragraphs(futures_util::stream::iter(tokens).then(move |token| async move {
            tokio::time::sleep(pause).await;
            token
        }))
    }
}

/// A chunk longer than this many bytes ends at its last sentence end.
const LONG_CHUNK: usize = 400;

/// Groups a stream of tokens into chunks worth a message each: a chunk ends at
/// a blank line (a paragraph), or, once it is long, at its last sentence end.
/// Chunks are trimmed; blank ones are dropped.
pub fn paragraphs(tokens: impl Stream<Item = String> + Send + 'static) -> BoxStream<'static, String> {
    let state = (tokens.boxed(), String::new(), false);
    futures_util::stream::unfold(state, |(mut tokens, mut buf, mut done)| async move {
        loop {
            if let Some(cut) = chunk_end(&buf).or(if done { Some(buf.len()) } else { None }) {
                if cut == 0 {
                    return None; // done, and nothing left
                }
                let chunk = buf.drain(..cut).collect::<String>().trim().to_string();
                if !chunk.is_empty() {
                    return Some((chunk, (tokens, buf, done)));
                }
                continue;
            }
            match tokens.next().await {
                Some(token) => buf.push_str(&token),
                None => done = true,
            }
        }
    })
    .boxed()
}

fn chunk_end(buf: &str) -> Option<usize> {
    if let Some(i) = buf.find("\n\n") {
        return Some(i + 2);
    }
    if buf.len() >= LONG_CHUNK {
        let ends = [". ", "! ", "? ", ".\n", "!\n", "?\n"];
        return ends.iter().filter_map(|e| buf.rfind(e).map(|i| i + e.len())).max();
    }
    None
}

/// The `(start, end)` byte ranges of each `@name` in `text`, matched without
/// regard to case: the `@` must not follow a letter or digit (`me@bot.com` is
/// no mention) and the name must not run on (`@botany` does not mention `bot`).
pub fn mentions(text: &str, name: &str) -> Vec<(usize, usize)> {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let mut found = Vec::new();
    for (at, _) in text.match_indices('@') {
        if text[..at].chars().next_back().is_some_and(word) {
            continue;
        }
        let rest = &text[at + 1..];
        let mut chars = rest.char_indices();
        let mut end = Some(0);
        for n in name.chars() {
            end = match chars.next() {
                Some((i, c)) if c.to_lowercase().eq(n.to_lowercase()) => Some(i + c.len_utf8()),
                _ => None,
            };
            if end.is_none() {
                break;
            }
        }
        match end {
            Some(end) if end > 0 && !rest[end..].chars().next().is_some_and(word) => found.push((at, at + 1 + end)),
            _ => {}
        }
    }
    found
}

/// Where the bot goes and who it is.
#[derive(Clone, Debug)]
pub struct BotConfig {
    /// The server's base URL, `ws://host:port` (or `http://…`).
    pub server: String,
    /// The room it answers in.
    pub room: RoomName,
    /// Its display name, which is also what it answers to (`@name`).
    pub name: DisplayName,
}

/// Runs the bot until `shutdown` completes, reconnecting whenever the
/// connection breaks.
pub async fn run(config: BotConfig, replies: Arc<dyn Replies>, shutdown: impl Future<Output = ()>) {
    let mut bot = Bot::new(config, replies);
    tokio::pin!(shutdown);
    let mut backoff = MIN_BACKOFF;
    loop {
        let url = bot.url();
        let connected = tokio::select! {
            () = &mut shutdown => return,
            connected = tokio_tungstenite::connect_async(url.as_str()) => connected,
        };
        match connected {
            Ok((ws, _)) => {
                match bot.converse(ws, &mut shutdown).await {
                    Ended::Shutdown => return,
                    Ended::Lost(why) => eprintln!("bot: connection lost ({why}); reconnecting"),
                }
                if bot.welcomed {
                    backoff = MIN_BACKOFF;
                }
            }
            Err(tungstenite::Error::Http(response)) if response.status() == 401 => {
                eprintln!("bot: the server refused the token; starting as a new user");
                bot.token = None;
            }
            Err(e) => eprintln!("bot: cannot connect to {}: {e}", bot.config.server),
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the bot says it is typing while it is busy.
const TYPING_EVERY: Duration = Duration::from_secs(1);
/// How long to wait before resending after a refusal that names no wait.
const RETRY_AFTER: Duration = Duration::from_secs(1);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

enum Ended {
    Shutdown,
    Lost(String),
}

/// Everything the bot keeps across connections.
struct Bot {
    config: BotConfig,
    replies: Arc<dyn Replies>,
    /// The identity to reconnect as.
    token: Option<String>,
    me: Option<UserId>,
    /// The last seq seen in the room (and the epoch it belongs to): anything
    /// at or below it has been handled.
    seen: Option<Seq>,
    epoch: Epoch,
    limits: WireLimits,
    rate: Bucket,
    /// Mentions waiting for their reply, oldest first.
    prompts: VecDeque<Prompt>,
    /// The reply being generated.
    generating: Option<Generating>,
    /// Chunks generated and not yet acked, in order; the first may be in flight.
    outbox: VecDeque<Draft>,
    /// Whether the first of `outbox` was sent and awaits its ack.
    awaiting_ack: bool,
    /// No send before this (after a refusal).
    retry_at: Option<Instant>,
    /// When to say "typing" next, while busy.
    typing_at: Option<Instant>,
    /// Per connection: whether `welcome` and `joined` came.
    welcomed: bool,
    joined: bool,
}

struct Generating {
    prompt: Prompt,
    chunks: BoxStream<'static, String>,
    /// Chunks (after splitting) queued so far.
    count: usize,
}

impl Bot {
    fn new(config: BotConfig, replies: Arc<dyn Replies>) -> Bot {
        let limits = WireLimits::from(&Limits::default());
        Bot {
            config,
            replies,
            token: None,
            me: None,
            seen: None,
            epoch: Epoch(0),
            rate: Bucket::new(&limits),
            limits,
            prompts: VecDeque::new(),
            generating: None,
            outbox: VecDeque::new(),
            awaiting_ack: false,
            retry_at: None,
            typing_at: None,
            welcomed: false,
            joined: false,
        }
    }

    /// The WebSocket URL: joins no room on connect (the bot sends its own
    /// `join`, with `since_seq` after a reconnect).
    fn url(&self) -> String {
        let base = self.config.server.trim_end_matches('/');
        let base = match base.split_once("://") {
            Some(("http", rest)) => format!("ws://{rest}"),
            Some(("https", rest)) => format!("wss://{rest}"),
            _ => base.to_string(),
        };
        let mut url = format!("{base}/v1/chat/ws?room=&name={}", encode(self.config.name.as_str()));
        if let Some(token) = &self.token {
            url.push_str(&format!("&token={}", encode(token)));
        }
        url
    }

    /// One connection's life.
    async fn converse(&mut self, mut ws: Socket, shutdown: &mut (impl Future<Output = ()> + Unpin)) -> Ended {
        self.welcomed = false;
        self.joined = false;
        self.awaiting_ack = false; // whatever was in flight is sent again
        loop {
            self.start_next_reply();
            let busy = self.generating.is_some() || !self.outbox.is_empty();
            if !busy {
                self.typing_at = None;
            } else if self.typing_at.is_none() {
                self.typing_at = Some(Instant::now());
            }
            let typing_at = self.typing_at.filter(|_| self.joined);
            let send_at = self.send_at();
            let result = tokio::select! {
                () = &mut *shutdown => {
                    let _ = ws.close(None).await;
                    return Ended::Shutdown;
                }
                frame = ws.next() => match frame {
                    Some(Ok(WsMessage::Text(text))) => self.on_frame(&mut ws, &text).await,
                    Some(Ok(WsMessage::Close(frame))) => Err(format!("closed: {frame:?}")),
                    Some(Ok(_)) => Ok(()),
                    Some(Err(e)) => Err(e.to_string()),
                    None => Err("the connection ended".into()),
                },
                chunk = next_chunk(&mut self.generating) => {
                    self.on_chunk(chunk);
                    Ok(())
                }
                () = sleep_until(typing_at) => {
                    self.typing_at = Some(Instant::now() + TYPING_EVERY);
                    send(&mut ws, &ClientFrame::Typing { room: self.config.room.clone() }).await
                }
                () = sleep_until(send_at) => self.send_next(&mut ws).await,
            };
            if let Err(why) = result {
                return Ended::Lost(why);
            }
        }
    }

    /// Starts generating the next reply when none is being generated.
    fn start_next_reply(&mut self) {
        if self.generating.is_none() {
            if let Some(prompt) = self.prompts.pop_front() {
                eprintln!("bot: answering #{} from {}", prompt.seq, prompt.from);
                let chunks = self.replies.reply(&prompt);
                self.generating = Some(Generating { prompt, chunks, count: 0 });
            }
        }
    }

    fn on_chunk(&mut self, chunk: Option<String>) {
        let Some(generating) = &mut self.generating else { return };
        let Some(chunk) = chunk else {
            self.generating = None; // that reply is complete
            return;
        };
        for piece in split(chunk.trim(), self.limits.max_content_chars) {
            let client_id = format!("{}-{}", generating.prompt.id, generating.count);
            generating.count += 1;
            self.outbox.push_back(Draft {
                content: piece.into(),
                client_id: ClientId::parse(&client_id).ok(),
                room: Some(generating.prompt.room.clone()),
                user_id: None,
                // Shown as an answer to the prompt (protocol.md §13).
                reply_to: Some(generating.prompt.id),
                attachments: Vec::new(),
            });
        }
    }

    /// When the next chunk may go: after the previous one's ack, once joined,
    /// within the rate, and not before a refusal's wait is over.
    fn send_at(&mut self) -> Option<Instant> {
        if !self.joined || self.awaiting_ack || self.outbox.is_empty() {
            return None;
        }
        let ready = self.rate.ready_at(Instant::now());
        Some(self.retry_at.map_or(ready, |retry| retry.max(ready)))
    }

    async fn send_next(&mut self, ws: &mut Socket) -> Result<(), String> {
        let Some(draft) = self.outbox.front() else { return Ok(()) };
        let frame = ClientFrame::Messages { data: vec![draft.clone()] };
        self.rate.take();
        self.retry_at = None;
        self.awaiting_ack = true;
        send(ws, &frame).await
    }

    async fn on_frame(&mut self, ws: &mut Socket, text: &str) -> Result<(), String> {
        let Ok(frame) = ServerFrame::decode(text) else {
            return Ok(()); // a frame this client does not know
        };
        match frame {
            ServerFrame::Welcome { user_id, token, limits, .. } => {
                if self.me.is_some_and(|me| me != user_id) {
                    eprintln!("bot: the server gave a new identity; earlier chunks may be posted again");
                }
                self.me = Some(user_id);
                self.token = Some(token.into_owned());
                self.rate = Bucket::new(&limits);
                self.limits = limits;
                self.welcomed = true;
                let since_seq = self.seen;
                let epoch = (self.seen.is_some() && self.epoch != Epoch(0)).then_some(self.epoch);
                send(ws, &ClientFrame::Join { room: self.config.room.clone(), since_seq, epoch }).await?;
            }
            ServerFrame::Joined { room, seq, epoch, recovered, .. } if room == self.config.room => {
                // Without a replay, start from the head: what came before is
                // either handled already or was said before the bot arrived.
                if !recovered || self.seen.is_none() {
                    if self.seen.is_some_and(|seen| seen < seq) {
                        eprintln!("bot: cannot recover after #{:?}; skipping to #{seq}", self.seen);
                    }
                    self.seen = Some(seq);
                }
                self.epoch = epoch;
                self.joined = true;
                eprintln!("bot: in {room} at #{seq}, answering @{}", self.config.name);
            }
            ServerFrame::Messages { room, data, .. } if room == self.config.room => {
                for message in data.iter() {
                    self.on_message(message);
                }
            }
            ServerFrame::MessageIds { status: AckStatus::Success, .. } if self.awaiting_ack => {
                self.awaiting_ack = false;
                self.outbox.pop_front();
            }
            ServerFrame::MessageIds { status: AckStatus::Error, error, .. } if self.awaiting_ack => {
                self.awaiting_ack = false;
                self.on_refused(error);
            }
            ServerFrame::Error(refusal) => {
                eprintln!("bot: refused: {refusal}");
                if refusal.room.as_ref() == Some(&self.config.room) && !self.joined {
                    return Err(format!("cannot join {}: {refusal}", self.config.room));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn on_message(&mut self, message: &Message) {
        if self.seen.is_some_and(|seen| message.seq <= seen) {
            return; // seen before: a replay overlapping what came live
        }
        self.seen = Some(message.seq);
        if Some(message.user_id) == self.me || mentions(&message.content, self.config.name.as_str()).is_empty() {
            return;
        }
        self.prompts.push_back(Prompt {
            room: message.room.clone(),
            seq: message.seq,
            id: message.id,
            from: message.name.clone(),
            content: message.content.to_string(),
            bot: self.config.name.to_string(),
        });
    }

    /// A chunk was refused: wait and send it again when trying again can
    /// help, drop it otherwise.
    fn on_refused(&mut self, error: Option<Refusal>) {
        let code = error.as_ref().map(|r| r.code);
        match code {
            Some(ErrorCode::RateLimited) => {
                self.retry_at = Some(Instant::now() + retry_after(error.as_ref()));
            }
            Some(ErrorCode::StorageUnavailable | ErrorCode::Internal) | None => {
                self.retry_at = Some(Instant::now() + RETRY_AFTER);
            }
            Some(_) => {
                let dropped = self.outbox.pop_front();
                eprintln!("bot: chunk {:?} refused, dropped: {error:?}", dropped.map(|d| d.client_id));
            }
        }
    }
}

/// How long a `rate_limited` refusal says to wait (its `retry_after_ms`).
fn retry_after(error: Option<&Refusal>) -> Duration {
    error.and_then(|e| e.retry_after_ms).map_or(RETRY_AFTER, Duration::from_millis)
}

/// The client side of the server's messages bucket, from `welcome.limits`:
/// the bot waits for a token instead of being refused.
struct Bucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(limits: &WireLimits) -> Bucket {
        let burst = f64::from(limits.message_burst.max(1));
        Bucket { per_second: f64::from(limits.messages_per_second).max(0.01), burst, tokens: burst, at: Instant::now() }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.at = now;
    }

    fn ready_at(&mut self, now: Instant) -> Instant {
        self.refill(now);
        if self.tokens >= 1.0 { now } else { now + Duration::from_secs_f64((1.0 - self.tokens) / self.per_second) }
    }

    fn take(&mut self) {
        self.refill(Instant::now());
        self.tokens -= 1.0;
    }
}

async fn next_chunk(generating: &mut Option<Generating>) -> Option<String> {
    match generating {
        Some(g) => g.chunks.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn send(ws: &mut Socket, frame: &ClientFrame) -> Result<(), String> {
    ws.send(WsMessage::text(frame.encode())).await.map_err(|e| e.to_string())
}

/// `text` in pieces of at most `max` characters (a message's limit).
fn split(text: &str, max: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(max.max(1))
        .map(|c| c.iter().collect::<String>().trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// Percent-encodes a query parameter's value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The command line.
#[derive(clap::Parser, Debug)]
#[command(about = "A WhisperChat bot that answers @mentions")]
struct Args {
    /// The server's WebSocket URL.
    #[arg(default_value = "ws://127.0.0.1:8080")]
    server: String,
    /// The room to answer in.
    #[arg(default_value = "lobby")]
    room: String,
    /// The bot's name; it answers messages that mention `@NAME`.
    #[arg(default_value = "bot")]
    name: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = <Args as clap::Parser>::parse();
    let config =
        BotConfig { server: args.server, room: RoomName::parse(&args.room)?, name: DisplayName::parse(&args.name)? };
    let replies = Arc::new(WordCount::new(Duration::from_millis(60)));
    run(config, replies, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_match_the_name_in_any_case_as_a_whole_word() {
        assert_eq!(mentions("hi @bot tell me", "bot"), [(3, 7)]);
        assert_eq!(mentions("@BOT, and @Bot: and (@bot)", "bot").len(), 3);
        assert_eq!(mentions("@bot", "bot"), [(0, 4)]);
        for quiet in ["bot", "me@bot.com", "@botany", "@bo", "@ bot", "@bot_x", "@bot-2", "@"] {
            assert!(mentions(quiet, "bot").is_empty(), "{quiet}");
        }
        assert_eq!(mentions("ask @Grand Bot now", "grand bot"), [(4, 14)]);
        assert_eq!(mentions("é@bot", "bot"), []);
    }

    #[test]
    fn the_question_is_the_message_without_the_mentions() {
        let prompt = |content: &str| Prompt {
            room: RoomName::lobby(),
            seq: Seq(1),
            id: MessageId::generate(),
            from: DisplayName::parse("Ada").unwrap(),
            content: content.into(),
            bot: "bot".into(),
        };
        assert_eq!(prompt("hi @bot tell me something").question(), "hi tell me something");
        assert_eq!(prompt("@Bot   what\nnow @bot").question(), "what now");
        assert_eq!(prompt("@bot").question(), "");
        assert_eq!(
            WordCount::paragraphs_for(&prompt("@bot"))[1],
            "You only said my name, so there are no words to count."
        );
    }

    #[tokio::test]
    async fn tokens_are_grouped_into_paragraphs_and_long_runs_into_sentences() {
        let tokens =
            |text: &str| futures_util::stream::iter(text.split_inclusive(' ').map(str::to_owned).collect::<Vec<_>>());
        let chunks: Vec<String> = paragraphs(tokens("One. Two.\n\n\n\nThree \n\n")).collect().await;
        assert_eq!(chunks, ["One. Two.", "Three"]);
        let long = "A sentence that goes on. ".repeat(30);
        let chunks: Vec<String> = paragraphs(tokens(&long)).collect().await;
        assert!(chunks.len() > 1 && chunks.iter().all(|c| c.len() < 2 * LONG_CHUNK && c.ends_with('.')), "{chunks:?}");
        assert_eq!(chunks.join(" "), long.trim());
        let none: Vec<String> = paragraphs(tokens(" \n\n ")).collect().await;
        assert!(none.is_empty());
    }

    #[test]
    fn long_chunks_are_split_at_the_content_limit() {
        assert_eq!(split("ééééé", 2), ["éé", "éé", "é"]);
        assert_eq!(split("  ", 10), Vec::<String>::new());
    }

    #[test]
    fn a_rate_limited_refusal_names_its_wait() {
        let refusal = Refusal::new(ErrorCode::RateLimited, "slow down");
        assert_eq!(
            retry_after(Some(&refusal.clone().retry_after(Duration::from_millis(70)))),
            Duration::from_millis(70)
        );
        assert_eq!(retry_after(Some(&refusal)), RETRY_AFTER, "an older server that does not say");
    }

    #[test]
    fn the_bucket_paces_at_the_servers_rate() {
        let limits = WireLimits { messages_per_second: 10, message_burst: 2, ..WireLimits::from(&Limits::default()) };
        let mut bucket = Bucket::new(&limits);
        let now = Instant::now();
        assert_eq!(bucket.ready_at(now), now);
        bucket.take();
        bucket.take();
        let wait = bucket.ready_at(Instant::now()) - Instant::now();
        assert!(wait > Duration::from_millis(50) && wait <= Duration::from_millis(100), "{wait:?}");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("Grand Bot/é"), "Grand%20Bot%2F%C3%A9");
    }
}
