//! A terminal chat client for a running WhisperChat server: rooms, history,
//! sending and presence.
//!
//! ```text
//! cargo run -p whisper-examples --example chat_cli -- ws://127.0.0.1:8080 lobby Ada
//! ```
//!
//! Every line you type is a message to the current room; lines starting with
//! `/` are commands (`/help` lists them). On joining a room it prints the last
//! messages from the HTTP API, then follows the room live. The token printed
//! at the start keeps your identity: `TOKEN=... cargo run ...`.
//!
//! The client itself is [`run`], over any line input and text output, so a
//! test drives it exactly as a person at a terminal would.

use std::collections::BTreeMap;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;
use whisper_core::codec::{AckStatus, HistoryPage, PresenceUser, RoomList, ServerFrame};

/// How many messages `/join` and `/history` show by default.
const HISTORY: usize = 10;

const HELP: &str = "\
commands:
  /rooms            rooms with history, who is online, last seq
  /join ROOM        join ROOM (it becomes the current room) and show its last messages
  /leave [ROOM]     leave ROOM (default: the current room)
  /switch ROOM      send to ROOM, one you joined
  /history [N]      the current room's last N messages (default 10)
  /who              who is online in the current room
  /name NAME        change your display name
  /quit             leave
anything else is a message to the current room";

#[allow(dead_code)] // the test includes this file for `run`
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let server = args.next().unwrap_or_else(|| "ws://127.0.0.1:8080".into());
    let room = args.next().unwrap_or_else(|| "lobby".into());
    let name = args.next();
    let token = std::env::var("TOKEN").ok();
    let input = BufReader::new(tokio::io::stdin());
    run(&server, &room, name.as_deref(), token.as_deref(), input, tokio::io::stdout()).await
}

/// The client's state: where it sends, and what it knows of its rooms.
struct Client<W> {
    out: W,
    http: String,
    room: String,
    /// Who is online in each joined room: its `presence` list, with the
    /// `presence_changes` since applied.
    online: BTreeMap<String, Vec<PresenceUser>>,
}

/// Runs the client against `server` (a `ws://host:port` URL) until the input
/// ends, `/quit`, or the server closes the connection.
pub(crate) async fn run(
    server: &str,
    room: &str,
    name: Option<&str>,
    token: Option<&str>,
    input: impl AsyncBufRead + Unpin,
    out: impl AsyncWrite + Unpin,
) -> anyhow::Result<()> {
    let base = server.trim_end_matches('/');
    let mut url = format!("{base}/v1/chat/ws?room={room}");
    if let Some(name) = name {
        url.push_str(&format!("&name={name}"));
    }
    if let Some(token) = token {
        url.push_str(&format!("&token={token}"));
    }
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    let (mut tx, mut rx) = ws.split();
    let http = base.replacen("ws://", "", 1);
    let mut client = Client { out, http, room: room.to_owned(), online: BTreeMap::new() };
    client.history(room, HISTORY).await?;
    let mut lines = input.lines();
    loop {
        tokio::select! {
            frame = rx.next() => match frame {
                Some(Ok(Message::Text(text))) => client.show(&text).await?,
                Some(Ok(Message::Close(frame))) => {
                    let why = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason)).unwrap_or_default();
                    client.say(&format!("* the server closed the connection {why}")).await?;
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => anyhow::bail!("connection failed: {e}"),
                None => break,
            },
            line = lines.next_line() => {
                let Some(line) = line? else { break };
                match client.command(line.trim()).await? {
                    Action::Send(frame) => tx.send(Message::text(frame.to_string())).await?,
                    Action::Nothing => {}
                    Action::Quit => break,
                }
            }
        }
    }
    let _ = tx.close().await;
    Ok(())
}

enum Action {
    Send(serde_json::Value),
    Nothing,
    Quit,
}

impl<W: AsyncWrite + Unpin> Client<W> {
    async fn say(&mut self, line: &str) -> anyhow::Result<()> {
        self.out.write_all(format!("{line}\n").as_bytes()).await?;
        self.out.flush().await?;
        Ok(())
    }

    /// What a typed line asks for.
    async fn command(&mut self, line: &str) -> anyhow::Result<Action> {
        let (cmd, arg) = line.split_once(' ').map_or((line, ""), |(c, a)| (c, a.trim()));
        let action = match (cmd, arg) {
            ("", _) => Action::Nothing,
            ("/quit", _) => Action::Quit,
            ("/help", _) => {
                self.say(HELP).await?;
                Action::Nothing
            }
            ("/rooms", _) => {
                self.rooms().await?;
                Action::Nothing
            }
            ("/history", n) => {
                let room = self.room.clone();
                self.history(&room, n.parse().unwrap_or(HISTORY)).await?;
                Action::Nothing
            }
            ("/who", _) => {
                let names = self.online.get(&self.room).map(|users| names_of(users)).unwrap_or_default();
                self.say(&format!("* online in {}: {names}", self.room)).await?;
                Action::Nothing
            }
            ("/join", room) if !room.is_empty() => {
                self.room = room.to_owned();
                self.history(room, HISTORY).await?;
                Action::Send(serde_json::json!({"type": "join", "room": room}))
            }
            ("/switch", room) if !room.is_empty() => {
                self.room = room.to_owned();
                self.say(&format!("* now sending to {room}")).await?;
                Action::Nothing
            }
            ("/leave", room) => {
                let room = if room.is_empty() { self.room.clone() } else { room.to_owned() };
                self.online.remove(&room);
                Action::Send(serde_json::json!({"type": "leave", "room": room}))
            }
            ("/name", name) if !name.is_empty() => Action::Send(serde_json::json!({"type": "profile", "name": name})),
            (cmd, _) if cmd.starts_with('/') => {
                self.say(&format!("? unknown command {line:?}; /help lists them")).await?;
                Action::Nothing
            }
            _ => Action::Send(serde_json::json!({"type": "messages", "data": [{"content": line, "room": self.room}]})),
        };
        Ok(action)
    }

    /// Prints a server frame the way a person wants to read it.
    async fn show(&mut self, text: &str) -> anyhow::Result<()> {
        let line = match ServerFrame::decode(text) {
            Ok(ServerFrame::Welcome { user_id, token, .. }) => format!("* you are {user_id} (TOKEN={token})"),
            Ok(ServerFrame::Joined { room, seq, unread, .. }) => match unread {
                Some(unread) => format!("* joined {room} at #{seq}, {unread} unread"),
                None => format!("* joined {room} at #{seq}"),
            },
            Ok(ServerFrame::Messages { data, .. }) => data
                .iter()
                .map(|m| format!("[{}] #{} {}: {}", m.room, m.seq, m.name, m.content))
                .collect::<Vec<_>>()
                .join("\n"),
            Ok(ServerFrame::Events { data, .. }) => data.iter().map(describe_event).collect::<Vec<_>>().join("\n"),
            Ok(ServerFrame::Ack { status: AckStatus::Error, error, .. }) => {
                format!("! not changed: {}", error.map(|e| e.message).unwrap_or_default())
            }
            Ok(ServerFrame::Ack { .. }) => return Ok(()),
            Ok(ServerFrame::Presence { room, users }) => {
                let line = format!("* online in {room}: {}", names_of(&users));
                self.online.insert(room.to_string(), users.into_owned());
                line
            }
            Ok(ServerFrame::PresenceChanges { room, joined, left }) => {
                let users = self.online.entry(room.to_string()).or_default();
                users.retain(|u| !left.contains(&u.user_id) && !joined.iter().any(|j| j.user_id == u.user_id));
                users.extend(joined.iter().cloned());
                users.sort_by_key(|u| (u.name.as_str().to_lowercase(), u.user_id));
                format!("* online in {room}: {}", names_of(users))
            }
            Ok(ServerFrame::Typing { name, room, .. }) => format!("* {name} is typing in {room}…"),
            Ok(ServerFrame::Receipt { room, user_id, seq }) => format!("* {user_id} read {room} up to #{seq}"),
            Ok(ServerFrame::MessageIds { status: AckStatus::Error, error, .. }) => {
                format!("! not sent: {}", error.map(|e| e.message).unwrap_or_default())
            }
            Ok(ServerFrame::MessageIds { .. } | ServerFrame::Pong { .. }) => return Ok(()),
            Ok(ServerFrame::Error(refusal)) => format!("! {}: {}", refusal.code, refusal.message),
            Ok(ServerFrame::Left { room, reason }) => format!("* you left {room}: {reason}"),
            Ok(ServerFrame::Room { room, .. }) => format!("* new room: {room} (/join {room})"),
            Err(_) => format!("? {text}"),
        };
        self.say(&line).await
    }

    /// `GET /v1/rooms`, as a table.
    async fn rooms(&mut self) -> anyhow::Result<()> {
        let body = http_get(&self.http, "/v1/rooms").await?;
        let list: RoomList = serde_json::from_str(&body)?;
        let mut lines = vec![format!("{:<24} {:>6} {:>8}", "room", "online", "last seq")];
        // `to_string` first: the domain types' Display ignores widths.
        lines.extend(
            list.rooms
                .iter()
                .map(|r| format!("{:<24} {:>6} {:>8}", r.name.to_string(), r.online, r.last_seq.to_string())),
        );
        self.say(&lines.join("\n")).await
    }

    /// The last `n` messages of `room`, from `GET /v1/chat/messages`.
    async fn history(&mut self, room: &str, n: usize) -> anyhow::Result<()> {
        let n = n.clamp(1, 500);
        let body = http_get(&self.http, &format!("/v1/chat/messages?room={room}&limit={n}")).await?;
        let page: HistoryPage<'_> = match serde_json::from_str(&body) {
            Ok(page) => page,
            Err(_) => return self.say(&format!("! history of {room}: {body}")).await,
        };
        let mut lines = vec![format!("* history of {room}: {} message(s)", page.data.len())];
        lines.extend(page.data.iter().map(|m| format!("[{}] #{} {}: {}", m.room, m.seq, m.name, m.content)));
        self.say(&lines.join("\n")).await
    }
}

/// A plain HTTP/1.1 GET (the server answers with a `Content-Length` body).
async fn http_get(host: &str, path: &str) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (_, body) = response.split_once("\r\n\r\n").ok_or_else(|| anyhow::anyhow!("a malformed HTTP response"))?;
    Ok(body.to_owned())
}

/// An edit, delete, reaction, membership or title change, as a line.
fn describe_event(e: &whisper_core::model::Event) -> String {
    use whisper_core::model::{Change, MemberAction};
    let target = e.target.map(|t| t.to_string()).unwrap_or_default();
    let what = match &e.change {
        Change::Edit { content } => format!("edited {target}: {content}"),
        Change::Delete => format!("deleted {target}"),
        Change::Reaction { emoji, on: true, count } => format!("reacted {emoji} to {target} ({count})"),
        Change::Reaction { emoji, on: false, count } => format!("took back {emoji} from {target} ({count})"),
        Change::Member { member_name, action, role, reason, .. } => {
            let done = match action {
                MemberAction::Added => "added",
                MemberAction::Left => "saw leave",
                MemberAction::Kicked => "removed",
                MemberAction::Banned => "banned",
                MemberAction::Unbanned => "unbanned",
                MemberAction::Role => "changed the role of",
            };
            let role = role.map(|r| format!(" ({r:?})")).unwrap_or_default();
            let reason = reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default();
            format!("{done} {member_name}{role}{reason}")
        }
        Change::Room { created, title, topic, .. } => {
            let title = title.as_ref().map_or("(untitled)", |t| t.as_str());
            let verb = if *created { "created the room" } else { "retitled the room" };
            format!("{verb}: {title} — {topic}")
        }
    };
    format!("[{}] #{} {} {what}", e.room, e.seq, e.name)
}

/// The names of a presence list, in its order.
fn names_of(users: &[PresenceUser]) -> String {
    users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>().join(", ")
}
