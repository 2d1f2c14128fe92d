//! Sessions and the timeline (protocol.md §13): `edit`, `delete`, `react`
//! and replies, acked after the commit, broadcast in seq order among the
//! messages, replayed by `join` with `since_seq`.

use serde_json::json;

use super::*;
use crate::codec::Refusal;
use crate::model::{Change, Event};

impl Client {
    async fn event_ack(&mut self) -> (AckStatus, Option<Seq>, Option<Refusal>) {
        self.next_where(|f| match f {
            ServerFrame::Ack { status, seq, error, .. } => Some((status, seq, error)),
            _ => None,
        })
        .await
    }

    async fn events(&mut self) -> Vec<Event> {
        self.next_where(|f| match f {
            ServerFrame::Events { data, .. } => Some(data.into_owned()),
            _ => None,
        })
        .await
    }

    async fn post(&mut self, content: &str) -> MessageId {
        self.send(json!({"type":"messages","data":[{"content":content}]}));
        let (status, ids, error) = self.ack().await;
        assert_eq!((status, error), (AckStatus::Success, None));
        ids[0]
    }
}

async fn two_in_lobby() -> (Chat, Client, Client) {
    let chat = fast_chat();
    let mut ada = connect(&chat, Some("lobby"));
    let mut bob = connect(&chat, Some("lobby"));
    for c in [&mut ada, &mut bob] {
        c.handshake().await;
        c.joined().await;
    }
    (chat, ada, bob)
}

#[tokio::test]
async fn edits_deletes_and_reactions_are_acked_and_broadcast() {
    let (chat, mut ada, mut bob) = two_in_lobby().await;
    let id = ada.post("helo").await;
    assert_eq!(bob.messages().await[0].id, id);

    ada.send(json!({"type":"edit","room":"lobby","id":id.to_string(),"content":"hello","client_id":"e1"}));
    assert_eq!(ada.event_ack().await, (AckStatus::Success, Some(Seq(2)), None));
    let edit = bob.events().await;
    assert_eq!(edit.len(), 1);
    assert_eq!(
        (edit[0].seq, edit[0].target, &edit[0].change),
        (Seq(2), Some(id), &Change::Edit { content: "hello".into() })
    );

    // Bob may react, not edit or delete Ada's message.
    bob.send(json!({"type":"edit","room":"lobby","id":id.to_string(),"content":"mine","client_id":"b1"}));
    let (status, seq, error) = bob.event_ack().await;
    assert_eq!((status, seq), (AckStatus::Error, None));
    assert_eq!(error.unwrap().code, ErrorCode::Forbidden);
    bob.send(json!({"type":"delete","room":"lobby","id":id.to_string(),"client_id":"b2"}));
    assert_eq!(bob.event_ack().await.2.unwrap().code, ErrorCode::Forbidden);
    bob.send(json!({"type":"react","room":"lobby","id":id.to_string(),"emoji":"🎉","on":true,"client_id":"b3"}));
    assert_eq!(bob.event_ack().await, (AckStatus::Success, Some(Seq(3)), None));
    // Ada saw her edit, then the reaction: events in seq order.
    let seen: Vec<u64> = [ada.events().await, ada.events().await].concat().iter().map(|e| e.seq.0).collect();
    assert_eq!(seen, [2, 3]);
    // The same reaction again is no change: acked, nothing stored or sent.
    bob.send(json!({"type":"react","room":"lobby","id":id.to_string(),"emoji":"🎉","on":true,"client_id":"b4"}));
    assert_eq!(bob.event_ack().await, (AckStatus::Success, None, None));

    ada.send(json!({"type":"delete","room":"lobby","id":id.to_string(),"client_id":"d1"}));
    assert_eq!(ada.event_ack().await, (AckStatus::Success, Some(Seq(4)), None));
    let delete = bob.events().await;
    assert_eq!((delete[0].seq, &delete[0].change), (Seq(4), &Change::Delete), "the no-op sent nothing before it");
    ada.send(json!({"type":"edit","room":"lobby","id":id.to_string(),"content":"back","client_id":"e2"}));
    assert_eq!(ada.event_ack().await.2.unwrap().code, ErrorCode::NotFound, "a deleted message takes no edit");

    let page = chat.store().read(&RoomName::lobby(), ReadRange::latest(10)).await.unwrap();
    assert!(page.messages[0].deleted && page.messages[0].content.is_empty());
    assert_eq!(chat.store().room(&RoomName::lobby()).await.unwrap().last_seq, Seq(4), "refusals stored nothing");

    // A resend of the edit (same client id) answers the original.
    ada.send(json!({"type":"edit","room":"lobby","id":id.to_string(),"content":"hello","client_id":"e1"}));
    assert_eq!(ada.event_ack().await, (AckStatus::Success, Some(Seq(2)), None));
}

#[tokio::test]
async fn a_client_that_was_away_gets_every_missed_event_in_order_once() {
    let (_chat, mut ada, mut bob) = two_in_lobby().await;
    let first = ada.post("one").await;
    bob.messages().await;
    bob.send(json!({"type":"leave","room":"lobby"}));
    // Wait until the leave is handled: a refused leave of a room never
    // joined is answered after it.
    bob.send(json!({"type":"leave","room":"nowhere"}));
    bob.error().await;

    ada.send(json!({"type":"edit","room":"lobby","id":first.to_string(),"content":"one!","client_id":"e"}));
    ada.event_ack().await;
    let second = ada.post("two").await;
    ada.send(json!({"type":"react","room":"lobby","id":second.to_string(),"emoji":"👍","on":true,"client_id":"r"}));
    ada.event_ack().await;
    ada.send(json!({"type":"react","room":"lobby","id":first.to_string(),"emoji":"👍","on":true,"client_id":"r2"}));
    ada.event_ack().await;

    bob.send(json!({"type":"join","room":"lobby","since_seq":1}));
    assert_eq!(bob.joined().await, (Seq(5), true));
    let mut replayed = Vec::new();
    while replayed.len() < 4 {
        match bob.next().await {
            ServerFrame::Messages { data, recovered, .. } => {
                assert_eq!(recovered, Some(true));
                replayed.extend(data.iter().map(|m| (m.seq.0, "message")));
            }
            ServerFrame::Events { data, recovered, .. } => {
                assert_eq!(recovered, Some(true));
                replayed.extend(data.iter().map(|e| (e.seq.0, e.change.kind())));
            }
            _ => {}
        }
    }
    assert_eq!(replayed, [(2, "edit"), (3, "message"), (4, "reaction"), (5, "reaction")]);
    // Live again: the next event arrives once, after the replay.
    ada.send(json!({"type":"delete","room":"lobby","id":second.to_string(),"client_id":"d"}));
    ada.event_ack().await;
    assert_eq!(bob.events().await[0].seq, Seq(6));
}

#[tokio::test]
async fn bad_change_frames_are_refused_with_every_problem_and_store_nothing() {
    let (chat, mut ada, _bob) = two_in_lobby().await;
    let id = ada.post("x").await;
    let long = "a".repeat(33);
    ada.send(json!({"type":"react","room":"lobby","id":id.to_string(),"emoji":long,"on":"yes","client_id":"r"}));
    let (status, _, error) = ada.event_ack().await;
    assert_eq!(status, AckStatus::Error);
    let error = error.unwrap();
    assert_eq!(error.code, ErrorCode::InvalidFrame, "an emoji over 32 bytes is invalid");
    assert_eq!(error.details.len(), 2, "{:?}", error.details);
    assert!(
        error.details.iter().any(|d| d.starts_with("emoji:")) && error.details.iter().any(|d| d.starts_with("on:"))
    );

    // Without a readable client id there is nothing to ack: an error frame.
    ada.send(json!({"type":"edit","room":"lobby","id":"nope","content":"  "}));
    let error = ada.error().await;
    assert_eq!(error.code, ErrorCode::InvalidFrame);
    let fields: Vec<&str> = error.details.iter().map(|d| d.split(':').next().unwrap()).collect();
    assert_eq!(fields, ["id", "content", "client_id"]);

    ada.send(json!({"type":"edit","room":"elsewhere","id":id.to_string(),"content":"y","client_id":"e"}));
    let error = ada.event_ack().await.2.unwrap();
    assert_eq!((error.code, error.room), (ErrorCode::NotFound, Some(RoomName::parse("elsewhere").unwrap())));
    let unknown = MessageId::generate();
    ada.send(json!({"type":"delete","room":"lobby","id":unknown.to_string(),"client_id":"d"}));
    assert_eq!(ada.event_ack().await.2.unwrap().code, ErrorCode::NotFound);

    assert_eq!(chat.store().room(&RoomName::lobby()).await.unwrap().last_seq, Seq(1));
    // The connection is fine.
    ada.post("still here").await;
}

#[tokio::test]
async fn replies_name_a_message_of_their_room() {
    let (chat, mut ada, mut bob) = two_in_lobby().await;
    let question = ada.post("why?").await;
    bob.messages().await;
    bob.send(json!({"type":"messages","data":[{"content":"because","reply_to":question.to_string()}]}));
    let (status, _, _) = bob.ack().await;
    assert_eq!(status, AckStatus::Success);
    assert_eq!(ada.messages().await[0].id, question, "her own message first");
    let reply = ada.messages().await;
    assert_eq!(reply[0].reply_to, Some(question));

    let elsewhere = chat
        .post(vec![NewMessage::now(
            RoomName::parse("other").unwrap(),
            ada.user,
            crate::model::DisplayName::parse("Ada").unwrap(),
            "there",
            None,
        )])
        .await
        .unwrap();
    let frame = json!({"type":"messages","data":[
        {"content":"ok","client_id":"c1"},
        {"content":"cross","client_id":"c2","reply_to":elsewhere[0].id.to_string()}
    ]});
    bob.send(frame);
    let (status, ids, error) = bob.ack().await;
    assert_eq!((status, ids.len()), (AckStatus::Error, 0), "the whole frame is refused");
    let error = error.unwrap();
    assert_eq!(error.code, ErrorCode::NotFound);
    assert!(error.details[0].starts_with("data[1].reply_to:"), "{:?}", error.details);
    assert_eq!(chat.store().room(&RoomName::lobby()).await.unwrap().last_seq, Seq(2));
}

#[tokio::test]
async fn a_join_is_told_how_far_the_others_have_read() {
    let (chat, mut ada, bob) = two_in_lobby().await;
    ada.post("one").await;
    ada.post("two").await;
    bob.send(json!({"type":"read","room":"lobby","seq":2}));
    ada.send(json!({"type":"read","room":"lobby","seq":1}));
    // Both marks are stored once each reader's receipt is out.
    for _ in 0..2 {
        ada.next_where(|f| matches!(f, ServerFrame::Receipt { .. }).then_some(())).await;
    }
    // Ada, on a second device, joins: she learns Bob read up to 2 (her own
    // mark is in `joined`, not a receipt).
    let mut again = connect_as(&chat, ada.user, Some("lobby"));
    again.handshake().await;
    again.joined().await;
    let receipt = again
        .next_where(|f| match f {
            ServerFrame::Receipt { user_id, seq, .. } => Some((user_id, seq)),
            _ => None,
        })
        .await;
    assert_eq!(receipt, (bob.user, Seq(2)));
}
