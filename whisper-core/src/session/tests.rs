//! Sessions driven through channels: the seed flow, every error code, close
//! codes, idempotent resend, recovery while others publish, slow consumers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::*;
use crate::codec::{AckStatus, ErrorCode, ServerFrame};
use crate::model::{Message, MessageId, NewEvent, NewMessage, PrincipalKind, Seq};
use crate::store::{
    Applied, LogPage, MemoryStore, Page, ReadMark, ReadRange, ReadState, RoomInfo, RoomsPage, Store, StoreError,
};
use crate::testing::{FailingStore, inbound_channel, outgoing_channel};
use crate::{Chat, Limits};

/// One client of a session, over channels.
struct Client {
    user: UserId,
    tx: mpsc::UnboundedSender<Inbound<String>>,
    rx: mpsc::UnboundedReceiver<Outgoing>,
    session: JoinHandle<SessionEnd>,
    /// The presence list the client shows (see `Client::presence`).
    presence: Vec<crate::codec::PresenceUser>,
}

fn connect_as(chat: &Chat, user: UserId, room: Option<&str>) -> Client {
    let (tx, inbound) = inbound_channel();
    let (outgoing, rx) = outgoing_channel();
    let conn = Connection {
        external_id: None,
        user_id: user,
        kind: PrincipalKind::Guest,
        session: None,
        token: Some(format!("token-of-{user}")),
        name: None,
        room: room.map(|r| RoomName::parse(r).unwrap()),
        address: None,
    };
    let session = tokio::spawn(run(chat.clone(), conn, inbound, outgoing, std::future::pending()));
    Client { user, tx, rx, session, presence: Vec::new() }
}

fn connect(chat: &Chat, room: Option<&str>) -> Client {
    connect_as(chat, UserId::random(), room)
}

impl Client {
    fn send(&self, frame: serde_json::Value) {
        self.tx.send(Inbound::Text(frame.to_string())).unwrap();
    }

    async fn next_outgoing(&mut self) -> Outgoing {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("a frame within 10 s")
            .expect("the session is still sending")
    }

    async fn next(&mut self) -> ServerFrame<'static> {
        loop {
            match self.next_outgoing().await {
                Outgoing::Frame(f) => return ServerFrame::decode(f.to_text()).unwrap(),
                Outgoing::Ping => continue,
                Outgoing::Close { code, reason } => panic!("closed {code} {reason}"),
            }
        }
    }

    /// The next frame that `pick` accepts, skipping presence and typing.
    async fn next_where<T>(&mut self, mut pick: impl FnMut(ServerFrame<'static>) -> Option<T>) -> T {
        loop {
            if let Some(t) = pick(self.next().await) {
                return t;
            }
        }
    }

    async fn ack(&mut self) -> (AckStatus, Vec<MessageId>, Option<crate::codec::Refusal>) {
        self.next_where(|f| match f {
            ServerFrame::MessageIds { status, message_ids, error, .. } => Some((status, message_ids, error)),
            _ => None,
        })
        .await
    }

    async fn error(&mut self) -> crate::codec::Refusal {
        self.next_where(|f| match f {
            ServerFrame::Error(r) => Some(r),
            _ => None,
        })
        .await
    }

    async fn messages(&mut self) -> Vec<Message> {
        self.next_where(|f| match f {
            ServerFrame::Messages { data, .. } => Some(data.into_owned()),
            _ => None,
        })
        .await
    }

    async fn close_code(&mut self) -> u16 {
        loop {
            if let Outgoing::Close { code, .. } = self.next_outgoing().await {
                return code;
            }
        }
    }

    /// Reads `welcome` and, if the client joined a room, `joined`.
    async fn handshake(&mut self) -> ServerFrame<'static> {
        let welcome = self.next().await;
        let ServerFrame::Welcome { user_id, .. } = &welcome else { panic!("first frame must be welcome: {welcome:?}") };
        assert_eq!(*user_id, self.user);
        welcome
    }

    async fn joined(&mut self) -> (Seq, bool) {
        self.next_where(|f| match f {
            ServerFrame::Joined { seq, recovered, .. } => Some((seq, recovered)),
            _ => None,
        })
        .await
    }
}

fn chat() -> Chat {
    Chat::builder(Arc::new(MemoryStore::new())).build()
}

fn fast_chat() -> Chat {
    let limits = Limits { messages_per_second: 100_000, message_burst: 100_000, ..Limits::default() };
    Chat::builder(Arc::new(MemoryStore::new())).limits(limits).build()
}

#[tokio::test]
async fn seed_flow() {
    let chat = chat();
    let mut ada = connect(&chat, Some("lobby"));
    let mut bob = connect(&chat, Some("lobby"));
    let welcome = ada.handshake().await;
    let ServerFrame::Welcome { token, server_id, .. } = welcome else { unreachable!() };
    assert_eq!(token, format!("token-of-{}", ada.user));
    assert_eq!(server_id, chat.server_id());
    assert_eq!(ada.joined().await, (Seq(0), false));
    bob.handshake().await;
    bob.joined().await;

    // The seed's exact frame, with the sender's own id.
    let seed = format!(r#"{{"type":"messages","data":[{{"user_id":"{}","content":"Hello, world!"}}]}}"#, ada.user);
    ada.tx.send(Inbound::Text(seed)).unwrap();
    let (status, ids, error) = ada.ack().await;
    assert_eq!(status, AckStatus::Success);
    assert_eq!(ids.len(), 1);
    assert_eq!(error, None);

    let author = ada.user;
    for client in [&mut bob, &mut ada] {
        let got = client.messages().await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, ids[0], "everyone in the room receives the acked message");
        assert_eq!(&*got[0].content, "Hello, world!");
        assert_eq!(got[0].user_id, author);
        assert_eq!(got[0].seq, Seq(1));
    }
    let page = chat.store().read(&RoomName::lobby(), ReadRange::latest(50)).await.unwrap();
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].id, ids[0]);
}

#[tokio::test]
async fn idempotent_resend_stores_and_broadcasts_once() {
    let chat = chat();
    let mut ada = connect(&chat, Some("lobby"));
    let mut bob = connect(&chat, Some("lobby"));
    ada.handshake().await;
    bob.handshake().await;
    bob.joined().await;
    let frame = json!({"type":"messages","data":[{"content":"once","client_id":"c-1"}]});
    ada.send(frame.clone());
    let first = ada.ack().await.1;
    ada.send(frame);
    let second = ada.ack().await.1;
    assert_eq!(first, second, "a resend is acked with the original id");
    ada.send(json!({"type":"messages","data":[{"content":"marker"}]}));
    ada.ack().await;
    assert_eq!(bob.messages().await[0].id, first[0]);
    let next = bob.messages().await;
    assert_eq!(&*next[0].content, "marker", "the resend was not broadcast again");
    let page = chat.store().read(&RoomName::lobby(), ReadRange::latest(50)).await.unwrap();
    assert_eq!(page.messages.len(), 2);
}

/// A reader that disconnects and rejoins with `since_seq` while another
/// client keeps publishing sees every seq exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recovery_while_another_task_publishes_has_no_gap_and_no_duplicate() {
    const TOTAL: u64 = 400;
    let chat = fast_chat();
    let publisher = {
        let chat = chat.clone();
        tokio::spawn(async move {
            let mut p = connect(&chat, None);
            p.handshake().await;
            for i in 0..TOTAL {
                p.send(json!({"type":"messages","data":[{"content":format!("m{i}"),"room":"lobby","client_id":format!("p-{i}")}]}));
                assert_eq!(p.ack().await.0, AckStatus::Success);
                if i % 16 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut seen: Vec<u64> = Vec::new();
    let mut reader = connect(&chat, Some("lobby"));
    reader.handshake().await;
    let mut reconnects = 0;
    while seen.last().copied().unwrap_or(0) < TOTAL {
        let batch = reader.messages().await;
        seen.extend(batch.iter().map(|m| m.seq.0));
        // Drop the connection every ~60 messages and come back.
        if reconnects < 4 && seen.len() as u64 > (reconnects + 1) * 60 {
            reconnects += 1;
            drop(reader);
            tokio::time::sleep(Duration::from_millis(5)).await;
            reader = connect(&chat, None);
            reader.handshake().await;
            let since = seen.last().copied().unwrap_or(0);
            reader.send(json!({"type":"join","room":"lobby","since_seq":since}));
            let (_, recovered) = reader.joined().await;
            assert!(recovered, "a gap under max_recover is recovered");
        }
    }
    publisher.await.unwrap();
    let want: Vec<u64> = (seen[0]..=TOTAL).collect();
    assert_eq!(seen, want, "every seq exactly once, in order, across {reconnects} reconnects");
    assert_eq!(reconnects, 4);
}

#[tokio::test]
async fn join_with_since_seq_replays_exactly_what_was_missed() {
    let chat = chat();
    let mut ada = connect(&chat, Some("lobby"));
    ada.handshake().await;
    for i in 0..5 {
        ada.send(json!({"type":"messages","data":[{"content":format!("m{i}")}]}));
        ada.ack().await;
    }
    let mut bob = connect(&chat, None);
    bob.handshake().await;
    bob.send(json!({"type":"join","room":"lobby","since_seq":2}));
    assert_eq!(bob.joined().await, (Seq(5), true));
    let replay = bob.next_where(|f| match f {
        ServerFrame::Messages { data, recovered, .. } => Some((data.into_owned(), recovered)),
        _ => None,
    });
    let (replay, recovered) = replay.await;
    assert_eq!(recovered, Some(true));
    assert_eq!(replay.iter().map(|m| m.seq.0).collect::<Vec<_>>(), [3, 4, 5]);

    // A gap over max_recover is not replayed: recovered is false.
    let small = Chat::builder(chat.store().clone()).limits(Limits { max_recover: 2, ..Limits::default() }).build();
    let mut carol = connect(&small, None);
    carol.handshake().await;
    carol.send(json!({"type":"join","room":"lobby","since_seq":1}));
    assert_eq!(carol.joined().await, (Seq(5), false));
    // Another epoch: nothing is replayed.
    carol.send(json!({"type":"join","room":"lobby","since_seq":4,"epoch":12345}));
    assert_eq!(carol.joined().await, (Seq(5), false));
    // A since_seq beyond the head (a history that was reset) is not trusted.
    carol.send(json!({"type":"join","room":"lobby","since_seq":99}));
    assert_eq!(carol.joined().await, (Seq(5), false));
    // Epoch 0 ("the room was empty when I joined") recovers like no epoch.
    carol.send(json!({"type":"join","room":"lobby","since_seq":4,"epoch":0}));
    assert_eq!(carol.joined().await, (Seq(5), true));
    // Up to date: recovered, nothing to replay.
    carol.send(json!({"type":"join","room":"lobby","since_seq":5}));
    assert_eq!(carol.joined().await, (Seq(5), true));
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_passes_the_rate_when_the_bucket_is_full() {
    let chat = chat();
    let mut ada = connect(&chat, Some("lobby"));
    ada.handshake().await;
    let batch: Vec<_> = (0..100).map(|i| json!({"content":format!("m{i}")})).collect();
    ada.send(json!({"type":"messages","data":batch}));
    let (status, ids, _) = ada.ack().await;
    assert_eq!(status, AckStatus::Success, "max_batch is usable even though it exceeds the burst");
    assert_eq!(ids.len(), 100);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids of a batch increase in send order");
    ada.send(json!({"type":"messages","data":[{"content":"now in debt"}]}));
    assert_eq!(ada.ack().await.2.unwrap().code, ErrorCode::RateLimited);
}

#[tokio::test]
async fn a_user_id_not_the_sessions_own_is_forbidden() {
    let chat = chat();
    let mut ada = connect(&chat, Some("lobby"));
    ada.handshake().await;
    ada.send(json!({"type":"messages","data":[{"content":"as bob","user_id":UserId::random().to_string(),"client_id":"f1"}]}));
    let (status, ids, error) = ada.ack().await;
    assert_eq!(status, AckStatus::Error);
    assert!(ids.is_empty());
    let error = error.unwrap();
    assert_eq!(error.code, ErrorCode::Forbidden);
    assert_eq!(error.details, ["data[0].user_id: is not this connection's user"]);
    assert_eq!(chat.store().room(&RoomName::lobby()).await.unwrap().last_seq, Seq(0), "nothing stored");
}

#[tokio::test(start_paused = true)]
async fn messages_over_the_rate_are_refused_whole() {
    let chat = chat();
    let mut ada = connect(&chat, Some("lobby"));
    ada.handshake().await;
    let burst: Vec<_> = (0..40).map(|i| json!({"content":format!("m{i}")})).collect();
    ada.send(json!({"type":"messages","data":burst}));
    assert_eq!(ada.ack().await.0, AckStatus::Success, "the burst is allowed");
    ada.send(json!({"type":"messages","data":[{"content":"one too many","client_id":"r1"}]}));
    let (status, _, error) = ada.ack().await;
    assert_eq!(status, AckStatus::Error);
    let error = error.unwrap();
    assert_eq!(error.code, ErrorCode::RateLimited);
    assert_eq!(error.retry_after_ms, Some(50), "one message at 20 per second");
    tokio::time::advance(Duration::from_millis(51)).await;
    ada.send(json!({"type":"messages","data":[{"content":"later","client_id":"r1"}]}));
    assert_eq!(ada.ack().await.0, AckStatus::Success, "the rate refills in the time it said");
    assert_eq!(chat.store().room(&RoomName::lobby()).await.unwrap().last_seq, Seq(41));
}

#[tokio::test]
async fn refused_frames_get_the_right_code_and_the_socket_stays_open() {
    let chat = Chat::builder(Arc::new(MemoryStore::new()))
        .limits(Limits { max_rooms_per_connection: 2, ..Limits::default() })
        .build();
    let mut ada = connect(&chat, None);
    ada.handshake().await;

    ada.tx.send(Inbound::Text("{not json".into())).unwrap();
    assert_eq!(ada.error().await.code, ErrorCode::InvalidFrame);

    ada.send(json!({"type":"join","room":"Not Valid"}));
    let e = ada.error().await;
    assert_eq!(e.code, ErrorCode::InvalidFrame);
    assert_eq!(e.details.len(), 1);

    ada.send(json!({"type":"dance"}));
    assert_eq!(ada.error().await.code, ErrorCode::UnknownType);

    ada.send(json!({"type":"leave","room":"lobby"}));
    let refusal = ada.error().await;
    assert_eq!(refusal.code, ErrorCode::NotFound);
    assert_eq!(refusal.room, Some(RoomName::lobby()), "a room refusal names its room");
    ada.send(json!({"type":"typing","room":"lobby"}));
    assert_eq!(ada.error().await.code, ErrorCode::NotFound);

    // Messages with no room while no room is joined.
    ada.send(json!({"type":"messages","data":[{"content":"where?"}]}));
    let (status, _, error) = ada.ack().await;
    assert_eq!(status, AckStatus::Error);
    assert_eq!(error.unwrap().code, ErrorCode::InvalidFrame);

    // A refused messages frame is answered on the ack channel, with client ids.
    ada.send(json!({"type":"messages","data":[{"content":"","client_id":"bad-1"}]}));
    let frame = ada.next_where(|f| matches!(f, ServerFrame::MessageIds { .. }).then_some(f)).await;
    let ServerFrame::MessageIds { client_ids, error, .. } = frame else { unreachable!() };
    assert_eq!(client_ids, [Some(crate::model::ClientId::parse("bad-1").unwrap())]);
    assert_eq!(error.unwrap().code, ErrorCode::InvalidFrame);

    let many: Vec<_> = (0..101).map(|_| json!({"content":"x","room":"lobby"})).collect();
    ada.send(json!({"type":"messages","data":many}));
    assert_eq!(ada.ack().await.2.unwrap().code, ErrorCode::TooLarge);

    ada.send(json!({"type":"join","room":"one"}));
    ada.joined().await;
    ada.send(json!({"type":"join","room":"two"}));
    ada.joined().await;
    ada.send(json!({"type":"join","room":"three"}));
    let refusal = ada.error().await;
    assert_eq!(refusal.code, ErrorCode::TooLarge, "over max_rooms_per_connection");
    assert_eq!(refusal.room.as_ref().map(RoomName::as_str), Some("three"));

    // Still open: a valid message goes through.
    ada.send(json!({"type":"messages","data":[{"content":"still here"}]}));
    assert_eq!(ada.ack().await.0, AckStatus::Success);
}

#[tokio::test]
async fn store_failures_are_nacked_never_acked() {
    for (error, code) in [
        (StoreError::Unavailable("db down".into()), ErrorCode::StorageUnavailable),
        (StoreError::Internal("bug".into()), ErrorCode::Internal),
    ] {
        let chat = Chat::builder(Arc::new(FailingStore::writes(error))).build();
        let mut ada = connect(&chat, Some("lobby"));
        ada.handshake().await;
        ada.send(json!({"type":"messages","data":[{"content":"lost?","client_id":"s1"}]}));
        let (status, ids, refusal) = ada.ack().await;
        assert_eq!(status, AckStatus::Error);
        assert!(ids.is_empty());
        let refusal = refusal.unwrap();
        assert_eq!(refusal.code, code);
        assert!(
            !refusal.message.contains("db down") && !refusal.message.contains("bug"),
            "store internals stay inside"
        );
    }
}

#[tokio::test]
async fn transport_faults_close_with_their_codes() {
    let chat = chat();
    let cases: Vec<(Inbound<String>, u16)> = vec![
        (Inbound::Binary, close::UNSUPPORTED_DATA),
        (Inbound::TooLarge, close::MESSAGE_TOO_BIG),
        (Inbound::InvalidUtf8, close::INVALID_PAYLOAD),
        (Inbound::Text("x".repeat(64 * 1024 + 1)), close::MESSAGE_TOO_BIG),
    ];
    for (inbound, code) in cases {
        let mut c = connect(&chat, Some("lobby"));
        c.handshake().await;
        c.tx.send(inbound).unwrap();
        assert_eq!(c.close_code().await, code);
        assert_eq!(c.session.await.unwrap().close_code(), Some(code));
    }
}

#[tokio::test(start_paused = true)]
async fn heartbeats_ping_and_a_silent_client_is_closed() {
    let chat = chat();
    let mut alive = connect(&chat, Some("lobby"));
    let mut silent = connect(&chat, Some("lobby"));
    alive.handshake().await;
    silent.handshake().await;
    let mut pings = 0;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(20)).await;
        alive.tx.send(Inbound::Pong).unwrap();
        while let Ok(out) = alive.rx.try_recv() {
            pings += usize::from(out == Outgoing::Ping);
        }
    }
    assert!(pings >= 4, "a ping every 20 s, got {pings}");
    assert_eq!(silent.close_code().await, close::GOING_AWAY);
    assert_eq!(silent.session.await.unwrap(), SessionEnd::Unresponsive);
    assert!(!alive.session.is_finished(), "a client that answers stays connected");
}

#[tokio::test]
async fn shutdown_closes_with_going_away() {
    let chat = chat();
    let (tx, inbound) = inbound_channel();
    let (outgoing, mut rx) = outgoing_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let conn = Connection {
        external_id: None,
        user_id: UserId::random(),
        kind: PrincipalKind::Guest,
        session: None,
        token: Some("t".into()),
        name: None,
        room: Some(RoomName::lobby()),
        address: None,
    };
    let session = tokio::spawn(run(chat.clone(), conn, inbound, outgoing, async {
        let _ = stop_rx.await;
    }));
    stop_tx.send(()).unwrap();
    assert_eq!(session.await.unwrap(), SessionEnd::Shutdown);
    let mut last = None;
    while let Ok(out) = rx.try_recv() {
        last = Some(out);
    }
    assert!(matches!(last, Some(Outgoing::Close { code: close::GOING_AWAY, .. })));
    assert_eq!(chat.hub().online(&RoomName::lobby()), 0, "a finished session leaves its rooms");
    drop(tx);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_and_the_others_get_everything() {
    let limits = Limits { outbox_capacity: 8, messages_per_second: 10_000, message_burst: 10_000, ..Limits::default() };
    let chat = Chat::builder(Arc::new(MemoryStore::new())).limits(limits).build();
    // A session whose transport accepts one frame and then never another.
    let (_stuck_tx, inbound) = inbound_channel();
    let (out_tx, _never_read) = mpsc::channel::<Outgoing>(1);
    let sink = Box::pin(futures_util::sink::unfold(out_tx, |tx, out: Outgoing| async move {
        tx.send(out).await.map(|()| tx).map_err(|_| "gone")
    }));
    let conn = Connection {
        external_id: None,
        user_id: UserId::random(),
        kind: PrincipalKind::Guest,
        session: None,
        token: Some("t".into()),
        name: None,
        room: Some(RoomName::lobby()),
        address: None,
    };
    let stuck = tokio::spawn(run(chat.clone(), conn, inbound, sink, std::future::pending()));

    let mut reader = connect(&chat, Some("lobby"));
    reader.handshake().await;
    reader.joined().await;
    let mut writer = connect(&chat, Some("lobby"));
    writer.handshake().await;
    for i in 0..100 {
        writer.send(json!({"type":"messages","data":[{"content":format!("m{i}")}]}));
        writer.ack().await;
    }
    let end = tokio::time::timeout(Duration::from_secs(20), stuck).await.expect("the stuck session ends").unwrap();
    assert_eq!(end, SessionEnd::SlowConsumer);
    assert!(chat.hub().stats().slow_consumers >= 1);
    let mut seen = Vec::new();
    while seen.len() < 100 {
        seen.extend(reader.messages().await.into_iter().map(|m| m.seq.0));
    }
    assert_eq!(seen, (1..=100).collect::<Vec<_>>(), "the reader got everything, in order");
}

/// A session whose transport accepts one frame and then never another: a
/// client that stopped reading, once its socket buffers are full.
async fn stuck_session(chat: &Chat, shutdown: impl Future<Output = ()>) -> SessionEnd {
    let (stuck_tx, inbound) = inbound_channel();
    let (out_tx, never_read) = mpsc::channel::<Outgoing>(1);
    let sink = Box::pin(futures_util::sink::unfold(out_tx, |tx, out: Outgoing| async move {
        tx.send(out).await.map(|()| tx).map_err(|_| "gone")
    }));
    let conn = Connection {
        external_id: None,
        user_id: UserId::random(),
        kind: PrincipalKind::Guest,
        session: None,
        token: Some("t".into()),
        name: None,
        room: Some(RoomName::lobby()),
        address: None,
    };
    let end = run(chat.clone(), conn, inbound, sink, shutdown).await;
    drop((stuck_tx, never_read));
    end
}

#[tokio::test(start_paused = true)]
async fn a_write_that_never_completes_times_out_in_a_quiet_room() {
    let chat = chat();
    // Nothing is published: the outbox never fills, only the timeout ends it.
    let end = stuck_session(&chat, std::future::pending()).await;
    assert_eq!(end, SessionEnd::WriteTimeout);
    assert_eq!(end.close_code(), Some(close::TRY_AGAIN_LATER));
    assert_eq!(chat.hub().online(&RoomName::lobby()), 0, "it left its rooms");
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_a_session_stuck_in_a_write() {
    let chat = chat();
    let end = stuck_session(&chat, tokio::time::sleep(Duration::from_secs(1))).await;
    assert_eq!(end, SessionEnd::Shutdown, "the shutdown at 1 s, not the 10 s write timeout");
}

#[tokio::test(start_paused = true)]
async fn typing_is_relayed_to_others_at_most_once_a_second() {
    let chat = chat();
    let mut ada = connect(&chat, Some("lobby"));
    let mut bob = connect(&chat, Some("lobby"));
    ada.handshake().await;
    bob.handshake().await;
    bob.joined().await;
    ada.send(json!({"type":"typing","room":"lobby"}));
    ada.send(json!({"type":"typing","room":"lobby"}));
    let typing = |f: ServerFrame<'static>| match f {
        ServerFrame::Typing { user_id, .. } => Some(user_id),
        _ => None,
    };
    assert_eq!(bob.next_where(typing).await, ada.user);
    tokio::time::advance(Duration::from_millis(1100)).await;
    ada.send(json!({"type":"typing","room":"lobby"}));
    ada.send(json!({"type":"messages","data":[{"content":"done"}]}));
    // Exactly one more typing notice before the message: the second of the
    // first pair was coalesced.
    let mut typings = 0;
    loop {
        match bob.next().await {
            ServerFrame::Typing { .. } => typings += 1,
            ServerFrame::Messages { .. } => break,
            _ => {}
        }
    }
    assert_eq!(typings, 1);
    // Ada never hears her own typing.
    ada.ack().await;
    let mut frames = Vec::new();
    while let Ok(Outgoing::Frame(f)) = ada.rx.try_recv() {
        frames.push(f.to_text().to_string());
    }
    assert!(frames.iter().all(|f| !f.contains("\"type\":\"typing\"")), "{frames:?}");
}

#[tokio::test(start_paused = true)]
async fn presence_lists_a_user_once_however_many_sockets() {
    let chat = chat();
    let mut watcher = connect(&chat, Some("lobby"));
    watcher.handshake().await;
    let ada = UserId::random();
    let mut one = connect_as(&chat, ada, Some("lobby"));
    let mut two = connect_as(&chat, ada, Some("lobby"));
    one.handshake().await;
    two.handshake().await;
    // The list a client shows: the full `presence`, then each
    // `presence_changes` applied to it; `None` if it was told nothing new.
    let latest_presence = |c: &mut Client| {
        let view = &mut c.presence;
        let mut told = false;
        while let Ok(Outgoing::Frame(f)) = c.rx.try_recv() {
            match ServerFrame::decode(f.to_text()) {
                Ok(ServerFrame::Presence { users, .. }) => *view = users.into_owned(),
                Ok(ServerFrame::PresenceChanges { joined, left, .. }) => {
                    view.retain(|u| !left.contains(&u.user_id) && !joined.iter().any(|j| j.user_id == u.user_id));
                    view.extend(joined.iter().cloned());
                }
                _ => continue,
            }
            told = true;
        }
        told.then(|| view.clone())
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let users = latest_presence(&mut watcher).expect("presence sent");
    assert_eq!(users.len(), 2, "watcher and ada: {users:?}");
    assert_eq!(users.iter().filter(|u| u.user_id == ada).count(), 1);

    // The second socket sees the list although joining it changed nothing.
    let seen_by_two = latest_presence(&mut two).expect("a second socket gets the list too");
    assert_eq!(seen_by_two.len(), 2);

    drop(one);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(chat.hub().online(&RoomName::lobby()), 2, "ada still has a socket");

    two.send(json!({"type":"profile","name":"Ada"}));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let users = latest_presence(&mut watcher).expect("rename sent");
    assert!(users.iter().any(|u| u.user_id == ada && u.name.as_str() == "Ada"));
    two.send(json!({"type":"messages","data":[{"content":"named"}]}));
    assert_eq!(two.messages().await[0].name.as_str(), "Ada", "messages carry the display name");

    drop(two);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let users = latest_presence(&mut watcher).expect("departure sent");
    assert_eq!(users.len(), 1, "only the watcher is left");
}

#[tokio::test(start_paused = true)]
async fn join_leave_and_profile_over_their_rate_are_refused_and_change_nothing() {
    // A small burst, so the presence bucket runs dry before the control one.
    let limits = Limits { presence_frame_burst: 10, presence_frames_per_second: 5, ..Limits::default() };
    let chat = Chat::builder(Arc::new(MemoryStore::new())).limits(limits.clone()).build();
    let mut ada = connect(&chat, None);
    ada.handshake().await;
    let burst = limits.presence_frame_burst as usize;
    for i in 0..burst {
        ada.send(json!({"type":"join","room":format!("r{i}")}));
        ada.joined().await;
    }
    ada.send(json!({"type":"join","room":"one-too-many"}));
    let error = ada.error().await;
    assert_eq!(error.code, ErrorCode::RateLimited);
    assert_eq!(error.room.as_ref().map(|r| r.as_str()), Some("one-too-many"));
    assert_eq!(error.retry_after_ms, Some(200), "one frame at 5 per second");
    ada.send(json!({"type":"profile","name":"Ada"}));
    assert_eq!(ada.error().await.code, ErrorCode::RateLimited);
    assert_eq!(chat.hub().online(&RoomName::parse("one-too-many").unwrap()), 0, "the refused join joined nothing");
    ada.send(json!({"type":"typing","room":"r0"}));
    ada.send(json!({"type":"messages","data":[{"content":"still here","client_id":"c1"}]}));
    assert_eq!(ada.ack().await.0, AckStatus::Success, "other frames are not held back by it");

    tokio::time::advance(Duration::from_millis(201)).await;
    ada.send(json!({"type":"leave","room":"r0"}));
    ada.send(json!({"type":"messages","data":[{"content":"after leave","room":"r1","client_id":"c2"}]}));
    assert_eq!(ada.ack().await.0, AckStatus::Success);
    assert_eq!(chat.hub().online(&RoomName::parse("r0").unwrap()), 0, "the bucket refilled in the time it said");
}

#[tokio::test(start_paused = true)]
async fn a_profile_with_the_same_name_announces_nothing() {
    let chat = chat();
    let mut watcher = connect(&chat, Some("lobby"));
    watcher.handshake().await;
    let ada = connect(&chat, Some("lobby"));
    ada.send(json!({"type":"profile","name":"Ada"}));
    tokio::time::sleep(Duration::from_secs(1)).await;
    while watcher.rx.try_recv().is_ok() {}
    for _ in 0..5 {
        ada.send(json!({"type":"profile","name":"Ada"}));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut frames = Vec::new();
    while let Ok(Outgoing::Frame(f)) = watcher.rx.try_recv() {
        frames.push(f.to_text().to_string());
    }
    assert!(frames.is_empty(), "the same name again is no change: {frames:?}");
}

#[tokio::test]
async fn messages_go_to_the_first_joined_room_unless_named() {
    let chat = chat();
    let mut ada = connect(&chat, Some("acme/general"));
    ada.handshake().await;
    ada.send(json!({"type":"join","room":"acme/random"}));
    ada.send(json!({"type":"messages","data":[{"content":"default"},{"content":"named","room":"acme/random"}]}));
    assert_eq!(ada.ack().await.0, AckStatus::Success);
    let general = chat.store().read(&RoomName::parse("acme/general").unwrap(), ReadRange::latest(10)).await.unwrap();
    let random = chat.store().read(&RoomName::parse("acme/random").unwrap(), ReadRange::latest(10)).await.unwrap();
    assert_eq!(&*general.messages[0].content, "default");
    assert_eq!(&*random.messages[0].content, "named");
}

#[tokio::test]
async fn rooms_are_isolated_and_leave_stops_delivery() {
    let chat = chat();
    let mut ada = connect(&chat, Some("one"));
    let mut bob = connect(&chat, Some("two"));
    ada.handshake().await;
    ada.joined().await;
    bob.handshake().await;
    bob.joined().await;
    bob.send(json!({"type":"messages","data":[{"content":"for two"}]}));
    bob.ack().await;
    ada.send(json!({"type":"messages","data":[{"content":"for one"}]}));
    ada.ack().await;
    assert_eq!(&*ada.messages().await[0].content, "for one", "ada never sees room two");
    ada.send(json!({"type":"leave","room":"one"}));
    bob.send(json!({"type":"messages","data":[{"content":"to one","room":"one"}]}));
    bob.ack().await;
    ada.send(json!({"type":"join","room":"two"}));
    ada.joined().await;
    bob.send(json!({"type":"messages","data":[{"content":"two again"}]}));
    bob.ack().await;
    assert_eq!(&*ada.messages().await[0].content, "two again", "nothing from a room left");
}

/// A memory store whose appends wait at a gate, counting how many wait.
#[derive(Debug)]
struct GatedStore {
    inner: MemoryStore,
    waiting: std::sync::atomic::AtomicUsize,
    gate: tokio::sync::Semaphore,
}

#[async_trait]
impl Store for GatedStore {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Message>, StoreError> {
        self.waiting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.gate.acquire().await.expect("gate open").forget();
        self.inner.append(batch).await
    }
    async fn read(&self, room: &RoomName, range: ReadRange) -> Result<Page, StoreError> {
        self.inner.read(room, range).await
    }
    async fn apply(&self, event: NewEvent) -> Result<Applied, StoreError> {
        self.inner.apply(event).await
    }
    async fn message(&self, room: &RoomName, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.inner.message(room, id).await
    }
    async fn log(&self, room: &RoomName, after: Seq, limit: usize) -> Result<LogPage, StoreError> {
        self.inner.log(room, after, limit).await
    }
    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError> {
        self.inner.room(room).await
    }
    async fn room_reads(&self, room: &RoomName, limit: usize) -> Result<Vec<(UserId, Seq)>, StoreError> {
        self.inner.room_reads(room, limit).await
    }
    async fn rooms_page(&self, after: Option<&RoomName>, limit: usize) -> Result<RoomsPage, StoreError> {
        self.inner.rooms_page(after, limit).await
    }
    async fn mark_read(&self, user: UserId, room: &RoomName, seq: Seq) -> Result<ReadMark, StoreError> {
        self.inner.mark_read(user, room, seq).await
    }
    async fn read_state(&self, user: UserId, room: &RoomName) -> Result<ReadState, StoreError> {
        self.inner.read_state(user, room).await
    }
    async fn create_room(&self, room: crate::store::NewRoom) -> Result<Option<Vec<crate::model::Event>>, StoreError> {
        self.inner.create_room(room).await
    }
    async fn access(&self, room: &RoomName, user: UserId) -> Result<crate::model::Access, StoreError> {
        self.inner.access(room, user).await
    }
    async fn members(
        &self,
        room: &RoomName,
        banned: bool,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, crate::model::DisplayName, crate::model::Standing)>, StoreError> {
        self.inner.members(room, banned, after, limit).await
    }
    async fn member_rooms(
        &self,
        user: UserId,
        after: Option<&RoomName>,
        limit: usize,
    ) -> Result<crate::store::MemberRoomsPage, StoreError> {
        self.inner.member_rooms(user, after, limit).await
    }
    async fn search(&self, search: &crate::store::Search) -> Result<crate::store::SearchPage, StoreError> {
        self.inner.search(search).await
    }
    async fn add_file(&self, file: crate::model::FileRecord) -> Result<(), StoreError> {
        self.inner.add_file(file).await
    }
    async fn file(&self, id: crate::model::FileId) -> Result<Option<crate::model::PostedFile>, StoreError> {
        self.inner.file(id).await
    }
    async fn sweep_files(
        &self,
        before: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<crate::model::FileRecord>, StoreError> {
        self.inner.sweep_files(before, limit).await
    }
}

#[tokio::test]
async fn messages_frames_are_stored_concurrently_and_acked_in_order() {
    let store = Arc::new(GatedStore {
        inner: MemoryStore::default(),
        waiting: Default::default(),
        gate: tokio::sync::Semaphore::new(0),
    });
    let limits = Limits { max_posts_in_flight: 3, ..Limits::default() };
    let chat = Chat::builder(store.clone()).limits(limits).build();
    let mut ada = connect(&chat, Some("lobby"));
    ada.handshake().await;
    ada.joined().await;
    for i in 1..=4 {
        ada.send(json!({"type":"messages","data":[{"content":format!("m{i}"),"client_id":format!("c{i}")}]}));
    }
    // Answered after the messages before it: a leave of a room never joined.
    ada.send(json!({"type":"leave","room":"elsewhere"}));

    // Three frames reach the store at once; the fourth waits for a free slot.
    let waiting = || store.waiting.load(std::sync::atomic::Ordering::SeqCst);
    for _ in 0..200 {
        if waiting() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(waiting(), 3, "three frames in the store at once");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(waiting(), 3, "max_posts_in_flight holds the fourth back");

    store.gate.add_permits(4);
    let mut answers = Vec::new();
    while answers.len() < 5 {
        match ada.next().await {
            ServerFrame::MessageIds { status, client_ids, .. } => {
                assert_eq!(status, AckStatus::Success);
                answers.push(client_ids[0].as_ref().map(|c| c.as_str().to_owned()).unwrap_or_default());
            }
            ServerFrame::Error(refusal) => {
                assert_eq!(refusal.code, ErrorCode::NotFound);
                answers.push("leave refused".into());
            }
            _ => {}
        }
    }
    assert_eq!(answers, ["c1", "c2", "c3", "c4", "leave refused"], "answers in the order of the frames");
    let stored = chat.store().read(&RoomName::lobby(), ReadRange::latest(10)).await.unwrap().messages;
    let contents: Vec<&str> = stored.iter().map(|m| &*m.content).collect();
    assert_eq!(contents, ["m1", "m2", "m3", "m4"], "stored in the order sent");
}

/// A client moving from node B to node A, which has not yet broadcast the
/// last messages it read on B: it is not sent them again, and the rest of
/// A catches up from the store without waiting for a later message.
#[tokio::test(start_paused = true)]
async fn a_client_ahead_of_its_new_node_gets_nothing_twice() {
    use crate::broker::{Broker, LocalBroker};
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let broker = Arc::new(LocalBroker::new());
    let a = Chat::builder(store.clone()).server_id("a").broker(broker.clone()).build().await.unwrap();
    let b = Chat::builder(store.clone()).server_id("b").broker(broker.clone()).build().await.unwrap();
    let mut watcher = connect(&a, Some("lobby"));
    watcher.handshake().await;
    assert_eq!(watcher.joined().await.0, Seq(0));

    // A hears nothing of what is said on B for now.
    broker.detach("a");
    let mut bob = connect(&b, Some("lobby"));
    bob.handshake().await;
    for i in 0..3 {
        bob.send(json!({"type":"messages","data":[{"content":format!("m{i}")}]}));
        assert_eq!(bob.ack().await.0, AckStatus::Success);
    }

    // Ada read all three on B, and now joins on A.
    let mut ada = connect(&a, None);
    ada.handshake().await;
    ada.send(json!({"type":"join","room":"lobby","since_seq":3}));
    assert_eq!(ada.joined().await, (Seq(3), true), "nothing to replay: she has it all");
    let seqs = |m: Vec<Message>| m.iter().map(|m| m.seq.0).collect::<Vec<_>>();
    assert_eq!(seqs(watcher.messages().await), [1, 2, 3], "A caught up from the store");

    // A hears B again: what follows reaches Ada once, and nothing before it.
    broker.attach("a", a.hub().clone()).await.unwrap();
    bob.send(json!({"type":"messages","data":[{"content":"m3"}]}));
    assert_eq!(seqs(ada.messages().await), [4]);
    assert_eq!(seqs(watcher.messages().await), [4]);
}

/// Write budgets are charged in the session, so an application embedding
/// the core refuses what the server refuses: past the budget a frame is
/// nacked `rate_limited` and stores nothing; a frame the store refused is
/// refunded, so an outage eats no budget (protocol.md §10).
#[tokio::test]
async fn write_budgets_refuse_past_the_budget_and_refund_store_failures() {
    let quotas = crate::limits::Quotas { user_bytes_per_minute: 100, ..crate::limits::Quotas::default() };
    let limits = Limits { quotas, ..Limits::default() };
    let frame = json!({"type":"messages","data":[{"content":"x".repeat(80)}]});

    let down = Chat::builder(Arc::new(FailingStore::writes(StoreError::Unavailable("down".into()))))
        .limits(limits.clone())
        .build();
    let mut ada = connect(&down, Some("lobby"));
    ada.handshake().await;
    for _ in 0..3 {
        ada.send(frame.clone());
        let (status, _, refusal) = ada.ack().await;
        assert_eq!(status, AckStatus::Error);
        assert_eq!(refusal.unwrap().code, ErrorCode::StorageUnavailable, "refunded: never over budget");
    }

    let store = Arc::new(MemoryStore::new());
    let chat = Chat::builder(store.clone()).limits(limits).build();
    let mut ada = connect(&chat, Some("lobby"));
    ada.handshake().await;
    ada.send(frame.clone());
    assert_eq!(ada.ack().await.0, AckStatus::Success);
    ada.send(frame);
    let (status, ids, refusal) = ada.ack().await;
    assert_eq!(status, AckStatus::Error);
    assert!(ids.is_empty());
    let refusal = refusal.unwrap();
    assert_eq!(refusal.code, ErrorCode::RateLimited);
    assert!(refusal.retry_after_ms.is_some());
    assert_eq!(store.room(&RoomName::lobby()).await.unwrap().last_seq, Seq(1), "the refused frame stored nothing");
}

/// At the room-creation cap, a post into a room that exists but that the
/// node has never seen (written by another node, or before a restart) is
/// still accepted: the store is asked before refusing (protocol.md §10).
#[tokio::test]
async fn at_the_room_cap_existing_rooms_nobody_here_knows_still_take_posts() {
    let quotas = crate::limits::Quotas { user_rooms_per_hour: 1, ..crate::limits::Quotas::default() };
    let store = Arc::new(MemoryStore::new());
    let old = RoomName::parse("old").unwrap();
    let name = crate::model::DisplayName::parse("someone").unwrap();
    store.append(vec![NewMessage::now(old.clone(), UserId::random(), name, "from before", None)]).await.unwrap();
    let chat = Chat::builder(store.clone()).limits(Limits { quotas, ..Limits::default() }).build();
    let mut ada = connect(&chat, None);
    ada.handshake().await;
    for (room, want) in [("new1", AckStatus::Success), ("old", AckStatus::Success), ("new2", AckStatus::Error)] {
        ada.send(json!({"type":"messages","data":[{"room":room,"content":"hi"}]}));
        let (status, _, refusal) = ada.ack().await;
        assert_eq!(status, want, "{room}: {refusal:?}");
    }
    assert_eq!(store.room(&old).await.unwrap().last_seq, Seq(2));
    assert_eq!(store.room(&RoomName::parse("new2").unwrap()).await.unwrap().last_seq, Seq::ZERO);
}

/// The read state a `joined` frame carries.
async fn joined_read_state(client: &mut Client) -> (Seq, u64) {
    client
        .next_where(|f| match f {
            ServerFrame::Joined { read_seq: Some(read_seq), unread: Some(unread), .. } => Some((read_seq, unread)),
            _ => None,
        })
        .await
}

#[tokio::test(start_paused = true)]
async fn read_marks_follow_the_user_to_another_connection_and_tell_the_room() {
    let chat = fast_chat();
    let ada_id = UserId::random();
    let mut bob = connect(&chat, Some("lobby"));
    bob.handshake().await;
    bob.joined().await;
    for i in 1..=3 {
        bob.send(json!({"type":"messages","data":[{"content":format!("m{i}")}]}));
        bob.ack().await;
    }
    let mut ada = connect_as(&chat, ada_id, Some("lobby"));
    ada.handshake().await;
    assert_eq!(joined_read_state(&mut ada).await, (Seq::ZERO, 3), "three unread, by someone else");

    // Above the head: clamped. Bob hears of it; a lower mark later is ignored.
    ada.send(json!({"type":"read","room":"lobby","seq":99}));
    let receipt = bob
        .next_where(|f| match f {
            ServerFrame::Receipt { room, user_id, seq } => Some((room, user_id, seq)),
            _ => None,
        })
        .await;
    assert_eq!(receipt, (RoomName::lobby(), ada_id, Seq(3)));
    ada.send(json!({"type":"read","room":"lobby","seq":1}));
    // Refused frames answer with `error`; an ignored read answers nothing,
    // so the next answer Ada gets is to what follows it.
    ada.send(json!({"type":"read","room":"elsewhere","seq":1}));
    let refusal = ada.error().await;
    assert_eq!(refusal.code, ErrorCode::NotFound);

    // Another device of Ada's starts where she left off.
    let mut ada_phone = connect_as(&chat, ada_id, Some("lobby"));
    ada_phone.handshake().await;
    assert_eq!(joined_read_state(&mut ada_phone).await, (Seq(3), 0));
    let mut bob_again = connect_as(&chat, bob.user, Some("lobby"));
    bob_again.handshake().await;
    assert_eq!(joined_read_state(&mut bob_again).await, (Seq::ZERO, 0), "bob's own messages are not unread");
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_reads_is_one_receipt_now_and_the_latest_a_second_later() {
    let chat = fast_chat();
    let mut bob = connect(&chat, Some("lobby"));
    bob.handshake().await;
    bob.joined().await;
    for i in 1..=5 {
        bob.send(json!({"type":"messages","data":[{"content":format!("m{i}")}]}));
        bob.ack().await;
    }
    let mut ada = connect(&chat, Some("lobby"));
    ada.handshake().await;
    ada.joined().await;
    for seq in 1..=5 {
        ada.send(json!({"type":"read","room":"lobby","seq":seq}));
    }
    let mut receipts = Vec::new();
    while receipts.len() < 2 {
        let seq = bob
            .next_where(|f| match f {
                ServerFrame::Receipt { seq, .. } => Some(seq),
                _ => None,
            })
            .await;
        receipts.push(seq);
    }
    assert_eq!(receipts[1], Seq(5), "the latest of the burst is always told");
    assert!(receipts[0] < Seq(5), "the first is told at once: {receipts:?}");
}

#[tokio::test]
async fn a_read_frame_is_validated_like_any_other() {
    let chat = chat();
    let mut ada = connect(&chat, Some("lobby"));
    ada.handshake().await;
    ada.joined().await;
    ada.send(json!({"type":"read","room":"No Such!","seq":-1}));
    let refusal = ada.error().await;
    assert_eq!(refusal.code, ErrorCode::InvalidFrame);
    assert_eq!(refusal.details.len(), 2, "every problem listed: {:?}", refusal.details);
    ada.send(json!({"type":"read","room":"lobby"}));
    let refusal = ada.error().await;
    assert_eq!(refusal.details, vec!["seq: is required".to_string()]);
}

mod policy;
mod principal;
mod timeline;
