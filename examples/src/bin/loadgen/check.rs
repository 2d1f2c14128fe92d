//! `--check`: the run judged by whisper-core's history checker. Every send
//! and its ack, and every message each connection receives (fully decoded),
//! are recorded; at the end the stored history of each room is read over the
//! HTTP API and checked for lost, unexpected, duplicated, out-of-order and
//! missing messages. Slower than the plain tally: for correctness runs.

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use whisper_core::codec::{AckStatus, HistoryPage, ServerFrame};
use whisper_core::model::{Message, RoomName, UserId};
use whisper_core::testing::history::{CheckReport, HistoryChecker, SubscriberId};

/// One connection as the checker knows it.
#[derive(Clone, Debug)]
pub struct Checked {
    pub user: UserId,
    pub sub: SubscriberId,
    pub room: RoomName,
}

/// The checker shared by every connection of this process.
#[derive(Default)]
pub struct Check(Mutex<HistoryChecker>);

impl Check {
    fn lock(&self) -> MutexGuard<'_, HistoryChecker> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads a frame received while connecting; returns the connection once
    /// it has its `welcome` and `joined`.
    pub fn connecting(&self, text: &str, user: &mut Option<UserId>, room: &str) -> Option<Checked> {
        match ServerFrame::decode(text).ok()? {
            ServerFrame::Welcome { user_id, .. } => {
                *user = Some(user_id);
                None
            }
            ServerFrame::Joined { room: joined, seq, .. } if joined.as_str() == room => {
                let mut history = self.lock();
                let sub = history.subscriber();
                history.joined(sub, &joined, seq);
                Some(Checked { user: (*user)?, sub, room: joined })
            }
            _ => None,
        }
    }

    pub fn sent(&self, who: &Checked, client_id: &str) {
        self.lock().sent(who.user, &who.room, client_id);
    }

    /// Records what a frame received during the run says.
    pub fn received(&self, who: &Checked, text: &str) {
        match ServerFrame::decode(text) {
            Ok(ServerFrame::Messages { data, .. }) => {
                let mut history = self.lock();
                for m in data.iter() {
                    history.delivered(who.sub, m);
                }
            }
            Ok(ServerFrame::MessageIds { status, client_ids, .. }) => {
                let mut history = self.lock();
                for id in client_ids.iter().flatten() {
                    match status {
                        AckStatus::Success => history.acked(who.user, id.as_str()),
                        AckStatus::Error => history.refused(who.user, id.as_str()),
                    }
                }
            }
            _ => {}
        }
    }

    /// Reads the stored history of `rooms` from the server and judges the run.
    pub async fn finish(&self, server: SocketAddr, rooms: &[RoomName]) -> anyhow::Result<CheckReport> {
        let mut stored = Vec::new();
        for room in rooms {
            stored.extend(room_history(server, room).await?);
        }
        Ok(self.lock().check(&stored))
    }
}

/// Every stored message of `room`, oldest first, page by page.
async fn room_history(server: SocketAddr, room: &RoomName) -> anyhow::Result<Vec<Message>> {
    let mut out: Vec<Message> = Vec::new();
    loop {
        let after = out.last().map_or(0, |m| m.seq.0);
        let body = http_get(server, &format!("/v1/chat/messages?room={room}&after_seq={after}&limit=500")).await?;
        let page: HistoryPage = serde_json::from_str(&body).with_context(|| format!("history of {room}"))?;
        let more = page.has_more;
        out.extend(page.data.into_owned());
        if !more {
            return Ok(out);
        }
    }
}

/// A plain HTTP/1.1 GET; the body of a 200 answer.
async fn http_get(server: SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut tcp = tokio::net::TcpStream::connect(server).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await?;
    let text = String::from_utf8(raw)?;
    let (head, body) = text.split_once("\r\n\r\n").context("an HTTP answer")?;
    anyhow::ensure!(head.starts_with("HTTP/1.1 200"), "GET {path}: {}", head.lines().next().unwrap_or(""));
    Ok(body.to_owned())
}
