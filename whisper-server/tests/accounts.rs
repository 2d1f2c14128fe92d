//! Accounts over real HTTP and WebSockets (protocol.md §14), on SQLite and
//! on PostgreSQL: register, sign in on a second device and be the same
//! person there, the stored name on every connection, a guest who
//! registers keeping what it posted, revoking a device closing its socket,
//! and every kind of bad input refused with the right status.

mod support;

use serde_json::{Value, json};
use support::server::{Answer, Client, TestServer, http_request, start_in};
use whisper_core::codec::{ErrorCode, ServerFrame};
use whisper_core::session::close;
use whisper_store::testing::pg::fresh_database;

#[tokio::test]
async fn accounts_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), |_| {}).await;
    accounts(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn accounts_on_postgres() {
    let Some(db) = fresh_database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = db.url().to_string();
    let server = start_in(dir.path(), |c| c.database_url = Some(url)).await;
    accounts(&server).await;
    server.stop().await;
}

async fn post(server: &TestServer, path: &str, headers: &[(&str, &str)], body: Value) -> Answer {
    http_request(server.addr, "POST", path, headers, Some(&body)).await
}

/// The `name=value` of a `Set-Cookie` answer, as a `Cookie` header sends it.
fn cookie_of(answer: &Answer) -> String {
    let set = answer.header("set-cookie").expect("a Set-Cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"), "{set}");
    set.split(';').next().unwrap().to_owned()
}

async fn connect_with_cookie(server: &TestServer, cookie: &str, query: &str) -> Client {
    Client::connect_with(&server.ws_url(query), &[("cookie", cookie)]).await.expect("connect with the cookie")
}

async fn accounts(server: &TestServer) {
    // A guest posts, then registers: same user id, and its message is its own.
    let mut guest = server.join("room=acc&name=Ada").await;
    let first = guest.say("before I had an account").await;
    let register = json!({"email":"Ada@Example.com","password":"correct horse","name":"Ada","guest_token":guest.token});
    let registered = post(server, "/v1/auth/register", &[], register).await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let body = registered.json();
    assert_eq!(body["user_id"], guest.user_id.to_string());
    assert_eq!((body["name"].as_str(), body["email"].as_str()), (Some("Ada"), Some("ada@example.com")));
    let laptop = cookie_of(&registered);

    // The WebSocket upgrade carries the cookie: the account, its stored
    // name, and no token in `welcome` (the page keeps none).
    let mut on_laptop = connect_with_cookie(server, &laptop, "room=acc&name=Someone%20Else").await;
    assert_eq!(on_laptop.user_id, guest.user_id);
    assert_eq!(on_laptop.token, "");
    on_laptop.joined().await;
    on_laptop.say("now with an account").await;
    let history = server.get("/v1/chat/messages?room=acc").await.1;
    let names: Vec<(&str, &str)> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["user_id"].as_str().unwrap(), m["name"].as_str().unwrap()))
        .collect();
    let me = guest.user_id.to_string();
    assert_eq!(names, [(me.as_str(), "Ada"), (me.as_str(), "Ada")], "the stored name, not the `name=` asked for");
    assert_eq!(history["data"][0]["id"], first.to_string());
    // What it posted as a guest stays marked as a guest's; as the account, as the account's.
    assert_eq!((history["data"][0].get("principal"), &history["data"][1]["principal"]), (None, &json!("account")));

    // The connection cannot rename an account; the profile can.
    on_laptop.send(json!({"type":"profile","name":"Bob"})).await;
    assert_eq!(on_laptop.error().await.code, ErrorCode::Forbidden);

    // A second device signs in: the same user and name, and both devices listed.
    let login = post(
        server,
        "/v1/auth/login",
        &[("user-agent", "phone")],
        json!({"email":"ada@example.com","password":"correct horse"}),
    )
    .await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(login.json()["user_id"], me);
    let phone = cookie_of(&login);
    let mut on_phone = connect_with_cookie(server, &phone, "room=acc").await;
    assert_eq!(on_phone.user_id, guest.user_id);
    on_phone.joined().await;
    let devices = http_request(server.addr, "GET", "/v1/me/sessions", &[("cookie", &phone)], None).await;
    assert_eq!(devices.status, 200);
    let sessions = devices.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let current = sessions.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(current["user_agent"], "phone");
    let laptop_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();

    // Renaming the profile shows on every connection at once.
    let renamed =
        http_request(server.addr, "PATCH", "/v1/me", &[("cookie", &phone)], Some(&json!({"name":"Ada L."}))).await;
    assert_eq!((renamed.status, renamed.json()["name"].as_str()), (200, Some("Ada L.")));
    on_laptop
        .next_where(|f| match f {
            ServerFrame::Presence { users, .. } | ServerFrame::PresenceChanges { joined: users, .. } => {
                users.iter().any(|u| u.name.as_str() == "Ada L.").then_some(())
            }
            _ => None,
        })
        .await;
    let me_now = http_request(server.addr, "GET", "/v1/me", &[("cookie", &laptop)], None).await;
    assert_eq!(me_now.json()["name"], "Ada L.");

    // Revoking the laptop from the phone closes the laptop's socket with
    // 4001, and its cookie no longer opens one.
    let revoked =
        http_request(server.addr, "DELETE", &format!("/v1/me/sessions/{laptop_id}"), &[("cookie", &phone)], None).await;
    assert_eq!(revoked.status, 204);
    let close = on_laptop.closed().await.expect("a close frame");
    assert_eq!(u16::from(close.code), close::REVOKED);
    let refused = Client::connect_with(&server.ws_url("room=acc"), &[("cookie", &laptop)]).await;
    assert!(refused.is_err(), "a revoked session opens no socket");
    let (status, body) = support::server::http_get(server.addr, "/v1/me", &[("cookie", &laptop)]).await;
    assert_eq!(status, 401, "{body}");
    on_phone.say("the phone stays").await;

    // Programmatic clients: the token from login as a bearer token or ?token=.
    let token = login.json()["token"].as_str().unwrap().to_owned();
    let by_bearer =
        http_request(server.addr, "GET", "/v1/me", &[("authorization", &format!("Bearer {token}"))], None).await;
    assert_eq!(by_bearer.json()["user_id"], me);
    let by_query = Client::connect(&server.ws_url(&format!("room=acc&token={token}"))).await.unwrap();
    assert_eq!(by_query.user_id, guest.user_id);

    // Signing out ends the session and clears the cookie.
    let out = post(server, "/v1/auth/logout", &[("cookie", &phone)], json!({})).await;
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(on_phone.closed().await.map(|c| u16::from(c.code)), Some(close::REVOKED));

    bad_input(server).await;
}

async fn bad_input(server: &TestServer) {
    let register = |email: &str, password: &str, name: &str| json!({"email":email,"password":password,"name":name});
    let cases = [
        (register("ada@example.com", "another horse", "Someone"), 409, "email_taken"),
        (register("ADA@EXAMPLE.COM", "another horse", "Someone"), 409, "email_taken"),
        (register("grace@example.com", "another horse", "ada l."), 409, "name_taken"),
        (register("grace@example.com", "short", "Grace"), 400, "weak_password"),
        (register("grace@example.com", "grace@example.com", "Grace"), 400, "weak_password"),
        (register("not-an-email", "another horse", "Grace"), 400, "invalid_request"),
        (register("grace@example.com", "another horse", &"G".repeat(33)), 400, "invalid_request"),
        (register(&format!("{}@example.com", "g".repeat(250)), "another horse", "Grace"), 400, "invalid_request"),
        (json!({"email":"grace@example.com"}), 400, "invalid_request"),
    ];
    for (body, status, code) in cases {
        let answer = post(server, "/v1/auth/register", &[], body.clone()).await;
        assert_eq!((answer.status, answer.code()), (status, code.to_string()), "{body}: {}", answer.body);
        assert!(!answer.json()["error"]["message"].as_str().unwrap_or_default().is_empty());
    }
    let weak = post(server, "/v1/auth/register", &[], register("g@example.com", "short", "G")).await;
    assert!(weak.body.contains("at least 10 characters"), "the rule is said: {}", weak.body);
    let forged_guest = json!({"email":"h@example.com","password":"another horse","name":"H","guest_token":"v1.forged"});
    assert_eq!(post(server, "/v1/auth/register", &[], forged_guest).await.status, 401);

    // A wrong password and an unknown email get the same answer.
    let wrong = post(server, "/v1/auth/login", &[], json!({"email":"ada@example.com","password":"wrong horse!"})).await;
    let unknown =
        post(server, "/v1/auth/login", &[], json!({"email":"nobody@example.com","password":"wrong horse!"})).await;
    assert_eq!((wrong.status, wrong.code()), (401, "invalid_credentials".to_string()));
    assert_eq!((unknown.status, unknown.body.clone()), (401, wrong.body.clone()));

    // Forged cookies and tokens: 401, on HTTP and on the upgrade.
    let forged = format!("whisper_session=ws1.{}", "0".repeat(64));
    for cookie in [forged.as_str(), "whisper_session=v1.nonsense"] {
        let (status, body) = support::server::http_get(server.addr, "/v1/me", &[("cookie", cookie)]).await;
        assert_eq!(status, 401, "{cookie}: {body}");
        let (status, _) = support::server::http_get(server.addr, "/v1/chat/ws?room=acc", &[("cookie", cookie)]).await;
        assert_eq!(status, 401);
    }
    // No credential: a guest may chat, but has no profile.
    assert_eq!(support::server::http_get(server.addr, "/v1/me", &[]).await.0, 401);
    // Another site cannot act with the cookie.
    let foreign = post(server, "/v1/auth/login", &[("origin", "http://evil.example")], json!({})).await;
    assert_eq!(foreign.status, 403);
    let oversized = post(server, "/v1/auth/login", &[], json!({"email": "x".repeat(20_000)})).await;
    assert_eq!((oversized.status, oversized.code()), (400, "invalid_request".to_string()));

    // Guessing one account's password is stopped: 429 with Retry-After.
    let mut limited = None;
    for _ in 0..12 {
        let answer =
            post(server, "/v1/auth/login", &[], json!({"email":"bob@example.com","password":"guess guess"})).await;
        if answer.status == 429 {
            limited = Some(answer);
            break;
        }
    }
    let limited = limited.expect("a 429 within 12 guesses");
    assert_eq!(limited.code(), "rate_limited");
    assert!(limited.header("retry-after").is_some_and(|s| s.parse::<u64>().unwrap() > 0));
}
