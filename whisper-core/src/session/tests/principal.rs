//! Who someone is travels with what they do (protocol.md §14): a message,
//! a presence entry and a typing notice say the kind of identity behind the
//! name, and say nothing for a guest, so a guest calling itself "Ada
//! Lovelace" cannot pass for the account of that name. An external
//! principal's messages carry the application's own id.

use serde_json::json;

use super::*;
use crate::model::{DisplayName, ExternalId, Principal};

fn connect_conn(chat: &Chat, conn: Connection) -> Client {
    let user = conn.user_id;
    let (tx, inbound) = inbound_channel();
    let (outgoing, rx) = outgoing_channel();
    let session = tokio::spawn(run(chat.clone(), conn, inbound, outgoing, std::future::pending()));
    Client { user, tx, rx, session, presence: Vec::new() }
}

fn ada() -> DisplayName {
    DisplayName::parse("Ada Lovelace").unwrap()
}

/// The raw text of the next frame of `kind`, skipping the others.
async fn raw(client: &mut Client, kind: &str) -> serde_json::Value {
    loop {
        if let Outgoing::Frame(f) = client.next_outgoing().await {
            let value: serde_json::Value = serde_json::from_str(f.to_text()).unwrap();
            if value["type"] == kind {
                return value;
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn messages_presence_and_typing_say_who_is_an_account_and_leave_guests_unmarked() {
    let chat = chat();
    let account = Connection {
        kind: PrincipalKind::Account,
        name: Some(ada()),
        ..Connection::guest(UserId::random(), Some(RoomName::lobby()))
    };
    let mut account = connect_conn(&chat, account);
    account.handshake().await;
    account.joined().await;
    // A guest that names itself like the account.
    let mut guest = connect(&chat, Some("lobby"));
    guest.handshake().await;
    guest.joined().await;
    guest.send(json!({"type":"profile","name":"Ada Lovelace"}));
    tokio::time::sleep(Duration::from_secs(1)).await;

    let presence = raw(&mut guest, "presence").await;
    let users = presence["users"].as_array().unwrap().clone();
    let by_id = |id: UserId| users.iter().find(|u| u["user_id"] == id.to_string()).cloned().unwrap();
    assert_eq!(by_id(account.user)["principal"], "account", "{presence}");
    assert!(by_id(guest.user).get("principal").is_none(), "a guest is left unmarked: {presence}");

    account.send(json!({"type":"messages","data":[{"content":"from the account"}]}));
    let message = raw(&mut guest, "messages").await;
    assert_eq!(message["data"][0]["principal"], "account", "{message}");
    raw(&mut account, "messages").await; // its own, echoed
    guest.send(json!({"type":"messages","data":[{"content":"from the guest"}]}));
    let message = raw(&mut account, "messages").await;
    assert_eq!(message["data"][0]["name"], "Ada Lovelace");
    assert!(message["data"][0].get("principal").is_none(), "{message}");

    account.send(json!({"type":"typing","room":"lobby"}));
    let typing = raw(&mut guest, "typing").await;
    assert_eq!(typing["principal"], "account", "{typing}");
    guest.send(json!({"type":"typing","room":"lobby"}));
    let typing = raw(&mut account, "typing").await;
    assert!(typing.get("principal").is_none(), "{typing}");

    // The store keeps it: history says the same.
    let page = chat.store().read(&RoomName::lobby(), ReadRange::latest(10)).await.unwrap();
    let kinds: Vec<PrincipalKind> = page.messages.iter().map(|m| m.principal).collect();
    assert_eq!(kinds, [PrincipalKind::Account, PrincipalKind::Guest]);
}

#[tokio::test]
async fn an_external_principal_posts_under_the_applications_own_id() {
    let chat = chat();
    let id = ExternalId::parse("crm:contact/42").unwrap();
    let conn = Connection::external(id.clone(), ada(), Some(RoomName::lobby()));
    assert_eq!(conn.user_id, id.user_id(), "no UUID to make up: it is derived");
    let mut client = connect_conn(&chat, conn);
    client.handshake().await;
    client.joined().await;
    client.send(json!({"type":"messages","data":[{"content":"hello from the app"}]}));
    let echoed = raw(&mut client, "messages").await;
    assert_eq!(echoed["data"][0]["principal"], "external");
    assert_eq!(echoed["data"][0]["external_id"], "crm:contact/42");
    // An external principal shows the application's name for it, not its own.
    client.send(json!({"type":"profile","name":"Someone Else"}));
    assert_eq!(client.error().await.code, ErrorCode::Forbidden);

    // The application posts as the same user from the server side.
    let posted = chat
        .post_as(&Principal::external(id.clone(), ada()), &RoomName::lobby(), "and from the server", None)
        .await
        .unwrap();
    assert_eq!((posted.user_id, posted.external_id.as_ref()), (id.user_id(), Some(&id)));
    let page = chat.store().read(&RoomName::lobby(), ReadRange::latest(10)).await.unwrap();
    assert!(page.messages.iter().all(|m| m.external_id.as_ref() == Some(&id) && m.user_id == id.user_id()));
}
