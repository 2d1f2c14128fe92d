//! Arbitrary bytes into `ClientFrame::decode`.
//!
//! Properties:
//! - decoding never panics, whatever the text;
//! - it is deterministic: the same text decodes to the same result twice;
//! - a refusal lists at least one problem;
//! - a decoded frame survives `ClientFrame::encode` and decodes to itself
//!   (what a Rust client sends is accepted as sent);
//! - the server frames built from what was decoded (the refusal as an `error`
//!   frame, the drafts as stored messages, a join as `joined`, a profile as
//!   `typing`) encode to text that `ServerFrame::decode` reads back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whisper_core::Limits;
use whisper_core::codec::{AckStatus, ClientFrame, ServerFrame};
use whisper_core::model::{DisplayName, Epoch, NewEvent, NewMessage, PrincipalKind, Request, RoomName, Seq, UserId};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = Limits::default();
    let first = ClientFrame::decode(text, &limits);
    let second = ClientFrame::decode(text, &limits);
    assert_eq!(first, second, "decoding is not deterministic");

    match first {
        Err(e) => {
            assert!(!e.refusal.details.is_empty(), "a refusal without details: {e:?}");
            round_trip(&ServerFrame::Error(e.refusal));
        }
        Ok(frame) => {
            let encoded = frame.encode();
            let again = ClientFrame::decode(&encoded, &limits);
            assert_eq!(again.as_ref(), Ok(&frame), "re-decoding the encoded frame {encoded}");
            server_frames_of(frame);
        }
    }
});

/// `ServerFrame::decode(frame.encode())` is `frame`.
fn round_trip(frame: &ServerFrame<'_>) {
    let encoded = frame.encode();
    let text = encoded.to_text();
    assert!(!text.is_empty(), "a server frame encoded to nothing: {frame:?}");
    match ServerFrame::decode(text) {
        Ok(back) => assert_eq!(&back, frame, "server frame round trip through {text}"),
        Err(e) => panic!("a server frame does not decode ({e}): {text}"),
    }
}

fn server_frames_of(frame: ClientFrame) {
    let user = UserId::random();
    match frame {
        ClientFrame::Messages { data } => {
            let messages: Vec<_> = data
                .into_iter()
                .enumerate()
                .map(|(i, d)| {
                    let room = d.room.clone().unwrap_or_else(RoomName::lobby);
                    NewMessage::now(room, d.user_id.unwrap_or(user), DisplayName::guest(user), d.content, d.client_id)
                        .stored_at(Seq(i as u64 + 1))
                })
                .collect();
            let room = messages[0].room.clone();
            round_trip(&ServerFrame::Messages { room, data: messages.into(), recovered: Some(true) });
        }
        ClientFrame::Join { room, since_seq, epoch } => {
            let seq = since_seq.unwrap_or(Seq::ZERO);
            let epoch = epoch.unwrap_or(Epoch(0));
            let read_seq = Some(seq);
            round_trip(&ServerFrame::Joined { room, seq, epoch, recovered: false, read_seq, unread: Some(0) });
        }
        ClientFrame::Leave { room } | ClientFrame::Typing { room } => {
            round_trip(&ServerFrame::Typing {
                room,
                user_id: user,
                name: DisplayName::guest(user),
                principal: PrincipalKind::Guest,
            });
        }
        ClientFrame::Profile { name } => {
            round_trip(&ServerFrame::Typing {
                room: RoomName::lobby(),
                user_id: user,
                name,
                principal: PrincipalKind::Account,
            });
        }
        ClientFrame::Read { room, seq } => {
            round_trip(&ServerFrame::Receipt { room, user_id: user, seq });
        }
        ClientFrame::Edit { room, id, content, client_id } => {
            let event = NewEvent::now(
                room,
                Some(id),
                user,
                DisplayName::guest(user),
                Request::Edit { content },
                Some(client_id),
            );
            round_trip(&ServerFrame::Events {
                room: event.room.clone(),
                data: vec![event.stored_at(Seq(2), 0)].into(),
                recovered: None,
            });
        }
        ClientFrame::Delete { room, id, client_id } => {
            let event =
                NewEvent::now(room, Some(id), user, DisplayName::guest(user), Request::Delete, Some(client_id.clone()));
            let stored = event.stored_at(Seq(2), 0);
            round_trip(&ServerFrame::Ack {
                client_id,
                status: AckStatus::Success,
                seq: Some(stored.seq),
                id: Some(stored.id),
                error: None,
            });
        }
        ClientFrame::React { room, id, emoji, on, client_id } => {
            let event = NewEvent::now(
                room,
                Some(id),
                user,
                DisplayName::guest(user),
                Request::React { emoji, on },
                Some(client_id),
            );
            round_trip(&ServerFrame::Events {
                room: event.room.clone(),
                data: vec![event.stored_at(Seq(3), u32::from(on))].into(),
                recovered: Some(true),
            });
        }
        ClientFrame::Ping { id } => round_trip(&ServerFrame::Pong { id }),
        ClientFrame::Status { away } => {
            let mut ada = whisper_core::codec::PresenceUser::guest(user, DisplayName::guest(user));
            ada.away = away;
            round_trip(&ServerFrame::Presence { room: RoomName::lobby(), users: vec![ada].into() });
        }
    }
}
