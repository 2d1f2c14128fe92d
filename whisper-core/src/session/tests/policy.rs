//! The application's hooks (protocol.md §14): a policy asked before each
//! join, post, edit, delete, reaction, rename and typing notice; what it
//! refuses stores nothing and is answered in order; what the application
//! does to a user's connections (rename, evict, disconnect, revoke); the
//! stream of commits.

use serde_json::json;

use super::*;
use crate::chat::{Committed, PostError};
use crate::model::{ClientId, DisplayName, Emoji, Principal};
use crate::policy::{Denied, Policy, Post, Verdict};
use tokio::sync::Semaphore;

/// `staff` is for accounts; "darn" is starred out, "spam" refused; nobody
/// edits to "secret", deletes while "locked" is in the room name, reacts
/// 💩, calls itself "admin" or types in `quiet`; history of `staff` is for
/// accounts.
#[derive(Debug)]
struct House;

#[crate::async_trait]
impl Policy for House {
    async fn join(&self, who: &Principal, room: &RoomName) -> Verdict {
        if room.as_str() == "staff" && who.kind != PrincipalKind::Account {
            return Err(Denied::forbidden("staff is for accounts"));
        }
        Ok(())
    }

    async fn post(&self, _who: &Principal, post: &mut Post) -> Verdict {
        if post.content.contains("spam") {
            return Err(Denied::invalid("no spam"));
        }
        post.content = post.content.replace("darn", "****").into();
        Ok(())
    }

    async fn edit(&self, _who: &Principal, _room: &RoomName, _target: MessageId, content: &mut Arc<str>) -> Verdict {
        if content.contains("secret") { Err(Denied::invalid("no secrets")) } else { Ok(()) }
    }

    async fn delete(&self, _who: &Principal, room: &RoomName, _target: MessageId) -> Verdict {
        if room.as_str().contains("locked") { Err(Denied::forbidden("this room keeps everything")) } else { Ok(()) }
    }

    async fn react(&self, _who: &Principal, _room: &RoomName, _t: MessageId, emoji: &Emoji, _on: bool) -> Verdict {
        if emoji.as_str() == "💩" { Err(Denied::invalid("be kind")) } else { Ok(()) }
    }

    async fn rename(&self, _who: &Principal, name: &DisplayName) -> Verdict {
        if name.as_str().eq_ignore_ascii_case("admin") { Err(Denied::forbidden("that name is taken")) } else { Ok(()) }
    }

    async fn read_history(&self, who: Option<&Principal>, room: &RoomName) -> Verdict {
        match who {
            Some(p) if p.kind == PrincipalKind::Account => Ok(()),
            _ if room.as_str() == "staff" => Err(Denied::forbidden("staff is for accounts")),
            _ => Ok(()),
        }
    }

    async fn typing(&self, _who: &Principal, room: &RoomName) -> Verdict {
        if room.as_str() == "quiet" { Err(Denied::forbidden("no typing notices here")) } else { Ok(()) }
    }
}

fn house_chat() -> Chat {
    let limits = Limits { messages_per_second: 100_000, message_burst: 100_000, ..Limits::default() };
    Chat::builder(Arc::new(MemoryStore::new())).limits(limits).policy(Arc::new(House)).build()
}

fn connect_with(chat: &Chat, user: UserId, kind: PrincipalKind, session: Option<&str>, room: Option<&str>) -> Client {
    let (tx, inbound) = inbound_channel();
    let (outgoing, rx) = outgoing_channel();
    let conn = Connection {
        kind,
        session: session.map(Arc::from),
        name: (kind != PrincipalKind::Guest).then(|| DisplayName::parse("Ada Lovelace").unwrap()),
        ..Connection::guest(user, room.map(|r| RoomName::parse(r).unwrap()))
    };
    let session = tokio::spawn(run(chat.clone(), conn, inbound, outgoing, std::future::pending()));
    Client { user, tx, rx, session, presence: Vec::new() }
}

async fn in_lobby(chat: &Chat) -> Client {
    let mut client = connect(chat, Some("lobby"));
    client.handshake().await;
    client.joined().await;
    client
}

async fn stored(chat: &Chat, room: &str) -> Vec<Message> {
    chat.store().read(&RoomName::parse(room).unwrap(), ReadRange::latest(100)).await.unwrap().messages
}

#[tokio::test]
async fn join_is_asked_and_a_refusal_subscribes_to_nothing() {
    let chat = house_chat();
    let mut guest = connect(&chat, None);
    guest.handshake().await;
    guest.send(json!({"type":"join","room":"staff"}));
    let refusal = guest.error().await;
    assert_eq!((refusal.code, refusal.message.as_str()), (ErrorCode::Forbidden, "staff is for accounts"));
    assert_eq!(chat.online(&RoomName::parse("staff").unwrap()), 0);

    let mut account = connect_with(&chat, UserId::random(), PrincipalKind::Account, None, Some("staff"));
    account.handshake().await;
    account.joined().await;
    assert_eq!(chat.online(&RoomName::parse("staff").unwrap()), 1);
}

#[tokio::test]
async fn post_is_asked_per_message_and_may_reshape_or_refuse_the_frame() {
    let chat = house_chat();
    let mut ada = in_lobby(&chat).await;
    ada.send(json!({"type":"messages","data":[{"content":"well darn"}]}));
    assert_eq!(ada.ack().await.0, AckStatus::Success);
    assert_eq!(&*stored(&chat, "lobby").await[0].content, "well ****");

    // One refused message refuses the whole frame: nothing of it is stored.
    ada.send(
        json!({"type":"messages","data":[{"content":"fine","client_id":"a"},{"content":"buy spam","client_id":"b"}]}),
    );
    let (status, ids, error) = ada.ack().await;
    let error = error.unwrap();
    assert_eq!((status, ids.len(), error.code), (AckStatus::Error, 0, ErrorCode::InvalidFrame));
    assert_eq!(error.details, ["data[1]: no spam"]);
    assert_eq!(stored(&chat, "lobby").await.len(), 1);
}

#[tokio::test]
async fn a_refusal_comes_after_the_answers_to_earlier_frames() {
    // The first frame is held in the store while the policy refuses the
    // second: the refusal waits for the first one's ack.
    let store =
        Arc::new(GatedStore { inner: MemoryStore::default(), waiting: Default::default(), gate: Semaphore::new(0) });
    let chat = Chat::builder(store.clone()).policy(Arc::new(House)).build();
    let mut ada = in_lobby(&chat).await;
    ada.send(json!({"type":"messages","data":[{"content":"first","client_id":"1"}]}));
    ada.send(json!({"type":"messages","data":[{"content":"spam","client_id":"2"}]}));
    while store.waiting.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.gate.add_permits(1);
    let answers: Vec<(AckStatus, Vec<Option<ClientId>>)> = [ada.ack_with_ids().await, ada.ack_with_ids().await].into();
    assert_eq!(answers[0], (AckStatus::Success, vec![Some(ClientId::parse("1").unwrap())]));
    assert_eq!(answers[1], (AckStatus::Error, vec![Some(ClientId::parse("2").unwrap())]));
}

#[tokio::test]
async fn edit_delete_and_react_are_asked_and_answered_by_ack() {
    let chat = house_chat();
    let mut ada = in_lobby(&chat).await;
    ada.send(json!({"type":"messages","data":[{"content":"hello"}]}));
    let id = ada.ack().await.1[0];
    let id = id.to_string();
    ada.send(json!({"type":"edit","room":"lobby","id":id,"content":"a secret","client_id":"e"}));
    let error = ada.change_ack().await.unwrap();
    assert_eq!((error.code, error.message.as_str()), (ErrorCode::InvalidFrame, "no secrets"));
    ada.send(json!({"type":"react","room":"lobby","id":id,"emoji":"💩","on":true,"client_id":"r"}));
    assert_eq!(ada.change_ack().await.unwrap().code, ErrorCode::InvalidFrame);
    ada.send(json!({"type":"react","room":"lobby","id":id,"emoji":"🎉","on":true,"client_id":"r2"}));
    assert_eq!(ada.change_ack().await, None);

    let mut locked = connect(&chat, Some("locked-room"));
    locked.handshake().await;
    locked.joined().await;
    locked.send(json!({"type":"messages","data":[{"content":"kept"}]}));
    let kept = locked.ack().await.1[0].to_string();
    locked.send(json!({"type":"delete","room":"locked-room","id":kept,"client_id":"d"}));
    assert_eq!(locked.change_ack().await.unwrap().code, ErrorCode::Forbidden);
    // Only the reaction was stored: seq 1 the message, seq 2 the 🎉.
    let log = chat.store().log(&RoomName::lobby(), Seq::ZERO, 10).await.unwrap();
    assert_eq!(log.entries.len(), 2);
    assert!(!stored(&chat, "locked-room").await[0].deleted);
}

#[tokio::test]
async fn rename_is_asked_and_only_a_guest_names_itself() {
    let chat = house_chat();
    let mut guest = in_lobby(&chat).await;
    guest.send(json!({"type":"profile","name":"Admin"}));
    assert_eq!(guest.error().await.code, ErrorCode::Forbidden);
    guest.send(json!({"type":"profile","name":"Grace"}));
    guest.send(json!({"type":"messages","data":[{"content":"hi"}]}));
    guest.ack().await;
    assert_eq!(stored(&chat, "lobby").await[0].name.as_str(), "Grace");

    // An account shows its stored name; the connection cannot change it.
    let mut account = connect_with(&chat, UserId::random(), PrincipalKind::Account, None, Some("lobby"));
    account.handshake().await;
    account.joined().await;
    account.send(json!({"type":"profile","name":"Grace"}));
    let refusal = account.error().await;
    assert_eq!(refusal.code, ErrorCode::Forbidden);
    account.send(json!({"type":"messages","data":[{"content":"me"}]}));
    account.ack().await;
    assert_eq!(stored(&chat, "lobby").await[1].name.as_str(), "Ada Lovelace");
}

#[tokio::test]
async fn typing_is_asked() {
    let chat = house_chat();
    let mut ada = connect(&chat, Some("quiet"));
    ada.handshake().await;
    ada.joined().await;
    ada.send(json!({"type":"typing","room":"quiet"}));
    assert_eq!(ada.error().await.message, "no typing notices here");
}

#[tokio::test]
async fn history_and_server_side_posts_go_through_the_policy() {
    let chat = house_chat();
    let staff = RoomName::parse("staff").unwrap();
    let bot = Principal::bot(UserId::random(), DisplayName::parse("Notices").unwrap());
    let posted = chat.post_as(&bot, &staff, "  darn it  ", None).await.unwrap();
    assert_eq!(&*posted.content, "**** it");
    assert!(matches!(chat.post_as(&bot, &staff, "spam", None).await, Err(PostError::Denied(_))));
    assert!(matches!(chat.post_as(&bot, &staff, "   ", None).await, Err(PostError::Invalid(_))));

    let range = ReadRange::latest(10);
    assert!(chat.history(None, &staff, range).await.is_err());
    let account = Principal { kind: PrincipalKind::Account, ..Principal::guest(UserId::random(), None) };
    assert_eq!(chat.history(Some(&account), &staff, range).await.unwrap().messages, [posted]);
}

#[tokio::test]
async fn without_a_policy_everything_is_as_before() {
    let chat = fast_chat();
    let mut ada = connect(&chat, Some("staff"));
    ada.handshake().await;
    ada.joined().await;
    ada.send(json!({"type":"messages","data":[{"content":"spam and darn"}]}));
    assert_eq!(ada.ack().await.0, AckStatus::Success);
    assert_eq!(&*stored(&chat, "staff").await[0].content, "spam and darn");
}

#[tokio::test]
async fn the_application_renames_evicts_and_disconnects_a_user_everywhere() {
    let chat = fast_chat();
    let ada_id = UserId::random();
    let mut ada = connect_with(&chat, ada_id, PrincipalKind::Account, Some("s1"), Some("lobby"));
    let mut phone = connect_with(&chat, ada_id, PrincipalKind::Account, Some("s2"), None);
    ada.handshake().await;
    ada.joined().await;
    phone.handshake().await;
    let mut bob = in_lobby(&chat).await;

    assert_eq!(chat.rename(ada_id, DisplayName::parse("Ada L.").unwrap()).await, 2);
    // Bob's list shows the new name (in his first list, or as a change).
    bob.next_where(|f| {
        let users = match f {
            ServerFrame::Presence { users, .. } => users.into_owned(),
            ServerFrame::PresenceChanges { joined, .. } => joined.into_owned(),
            _ => return None,
        };
        users.iter().any(|u| u.user_id == ada_id && u.name.as_str() == "Ada L.").then_some(())
    })
    .await;

    assert_eq!(chat.evict(bob.user, &RoomName::lobby(), "removed by a moderator").await, 1);
    let left = bob
        .next_where(|f| match f {
            ServerFrame::Left { room, reason } => Some((room, reason.into_owned())),
            _ => None,
        })
        .await;
    assert_eq!(left, (RoomName::lobby(), "removed by a moderator".to_string()));
    // Out of the room: typing there is refused.
    bob.send(json!({"type":"typing","room":"lobby"}));
    assert_eq!(bob.error().await.code, ErrorCode::NotFound);

    // Revoking one sign-in session closes its connections only.
    assert_eq!(chat.revoke(ada.user, "s2").await, 1);
    assert_eq!(phone.close_code().await, close::REVOKED);
    assert_eq!(phone.session.await.unwrap(), SessionEnd::Revoked);
    ada.send(json!({"type":"messages","data":[{"content":"still here"}]}));
    assert_eq!(ada.ack().await.0, AckStatus::Success);

    assert_eq!(chat.disconnect(ada.user).await, 1);
    assert_eq!(ada.close_code().await, close::DISCONNECTED);
    assert_eq!(chat.disconnect(ada.user).await, 0, "a closed connection is no longer listed");
}

#[tokio::test]
async fn commits_are_told_once_however_often_they_are_resent() {
    let chat = fast_chat();
    let mut commits = chat.committed();
    let mut ada = in_lobby(&chat).await;
    for _ in 0..3 {
        ada.send(json!({"type":"messages","data":[{"content":"once","client_id":"c1"}]}));
        assert_eq!(ada.ack().await.0, AckStatus::Success);
    }
    let id = stored(&chat, "lobby").await[0].id.to_string();
    for _ in 0..2 {
        ada.send(json!({"type":"edit","room":"lobby","id":id,"content":"twice?","client_id":"e1"}));
        assert_eq!(ada.change_ack().await, None);
    }
    let Committed::Messages(messages) = commits.recv().await.unwrap() else { panic!("messages first") };
    assert_eq!(messages.len(), 1);
    assert!(matches!(commits.recv().await.unwrap(), Committed::Event(e) if e.seq == Seq(2)));
    assert!(commits.try_recv().is_err(), "resends are not told again");
}

impl Client {
    async fn ack_with_ids(&mut self) -> (AckStatus, Vec<Option<ClientId>>) {
        self.next_where(|f| match f {
            ServerFrame::MessageIds { status, client_ids, .. } => Some((status, client_ids)),
            _ => None,
        })
        .await
    }

    /// The error of the next `ack` (`None`: it succeeded).
    async fn change_ack(&mut self) -> Option<crate::codec::Refusal> {
        self.next_where(|f| match f {
            ServerFrame::Ack { error, .. } => Some(error),
            _ => None,
        })
        .await
    }
}
