//! A terminal chat client: connects to a WhisperChat server, prints what the
//! room says, and sends every line you type. `/join ROOM`, `/name NAME` and
//! `/quit` are commands; everything else is a message to the current room.
//!
//! Run with: `cargo run -p whisper-examples --example chat_cli -- ws://127.0.0.1:8080 [room] [name]`
//! (the token it is given is printed; pass it as `TOKEN=... cargo run ...` to
//! keep your identity).

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;
use whisper_core::codec::{AckStatus, ServerFrame};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let server = args.next().unwrap_or_else(|| "ws://127.0.0.1:8080".into());
    let mut room = args.next().unwrap_or_else(|| "lobby".into());
    let name = args.next();
    let mut url = format!("{}/v1/chat/ws?room={room}", server.trim_end_matches('/'));
    if let Some(name) = &name {
        url.push_str(&format!("&name={name}"));
    }
    if let Ok(token) = std::env::var("TOKEN") {
        url.push_str(&format!("&token={token}"));
    }
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    let (mut tx, mut rx) = ws.split();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            frame = rx.next() => match frame {
                Some(Ok(Message::Text(text))) => show(&text),
                Some(Ok(Message::Close(frame))) => {
                    println!("* closed: {frame:?}");
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => anyhow::bail!("connection failed: {e}"),
                None => break,
            },
            line = lines.next_line() => {
                let Some(line) = line? else { break };
                let frame = match line.trim() {
                    "" => continue,
                    "/quit" => break,
                    cmd if cmd.starts_with("/join ") => {
                        room = cmd["/join ".len()..].trim().to_string();
                        serde_json::json!({"type": "join", "room": room})
                    }
                    cmd if cmd.starts_with("/name ") => {
                        serde_json::json!({"type": "profile", "name": cmd["/name ".len()..].trim()})
                    }
                    text => serde_json::json!({"type": "messages", "data": [{"content": text, "room": room}]}),
                };
                tx.send(Message::text(frame.to_string())).await?;
            }
        }
    }
    Ok(())
}

/// Prints a server frame the way a person wants to read it.
fn show(text: &str) {
    match ServerFrame::decode(text) {
        Ok(ServerFrame::Welcome { user_id, token, .. }) => println!("* you are {user_id} (TOKEN={token})"),
        Ok(ServerFrame::Joined { room, seq, .. }) => println!("* joined {room} at #{seq}"),
        Ok(ServerFrame::Messages { data, .. }) => {
            for m in data.iter() {
                println!("[{}] #{} {}: {}", m.room, m.seq, m.name, m.content);
            }
        }
        Ok(ServerFrame::Presence { room, users }) => {
            let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
            println!("* online in {room}: {}", names.join(", "));
        }
        Ok(ServerFrame::Typing { name, room, .. }) => println!("* {name} is typing in {room}…"),
        Ok(ServerFrame::MessageIds { status: AckStatus::Error, error, .. }) => println!("! not sent: {error:?}"),
        Ok(ServerFrame::MessageIds { .. }) => {}
        Ok(ServerFrame::Error(refusal)) => println!("! {}: {}", refusal.code, refusal.message),
        Err(_) => println!("? {text}"),
    }
}
