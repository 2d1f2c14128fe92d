//! Identities an application issues (protocol.md §14): JWTs signed HS256
//! with `--jwt-secret`, or RS256, ES256 or EdDSA for `--jwt-public-key`,
//! accepted on the upgrade and the read API; each kind of bad token is a
//! 401 that says what is wrong.

mod support;

use std::path::PathBuf;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use support::server::{Client, TestServer, http_get, start_with};
use whisper_core::codec::ErrorCode;

const SECRET: &str = "0123456789abcdef0123456789abcdef-the-apps-jwt-secret";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jwt").join(name)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn sign(algorithm: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    encode(&Header::new(algorithm), claims, key).unwrap()
}

fn hs256(claims: &Value) -> String {
    sign(Algorithm::HS256, &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(), claims)
}

/// The 401's message for `token` on the upgrade.
async fn refusal(server: &TestServer, token: &str) -> String {
    let (status, body) = http_get(server.addr, &format!("/v1/chat/ws?token={token}"), &[]).await;
    assert_eq!(status, 401, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    body["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_apps_hs256_token_is_its_user_and_bad_ones_say_why() {
    let server = start_with(|c| c.jwt_secret = Some(SECRET.into())).await;
    let claims = json!({"sub": "app-user-42", "name": "Grace", "exp": now() + 600});
    let token = hs256(&claims);
    let mut grace = Client::connect(&server.ws_url(&format!("room=jwt&name=Mallory&token={token}"))).await.unwrap();
    assert_eq!(grace.token, "", "the app holds the token; nothing to give back");
    grace.joined().await;
    grace.say("hello from the app").await;
    let history = server.get("/v1/chat/messages?room=jwt").await.1;
    assert_eq!(history["data"][0]["name"], "Grace", "the token's name, not `name=`");
    assert_eq!(history["data"][0]["user_id"], grace.user_id.to_string());
    // The app's own id for the user comes back with what it posted.
    assert_eq!(
        (&history["data"][0]["principal"], &history["data"][0]["external_id"]),
        (&json!("external"), &json!("app-user-42"))
    );
    // The same sub is the same user, on every connection.
    let again = Client::connect(&server.ws_url(&format!("room=&token={}", hs256(&claims)))).await.unwrap();
    assert_eq!(again.user_id, grace.user_id);
    grace.send(json!({"type":"profile","name":"Eve"})).await;
    assert_eq!(grace.error().await.code, ErrorCode::Forbidden);
    // The read API takes it as a bearer token.
    let (status, _) = http_get(server.addr, "/v1/rooms", &[("authorization", &format!("Bearer {token}"))]).await;
    assert_eq!(status, 200);

    let bad_signature =
        sign(Algorithm::HS256, &EncodingKey::from_secret(b"another secret entirely, 32+ bytes").unwrap(), &claims);
    assert!(refusal(&server, &bad_signature).await.contains("signature"));
    let expired = hs256(&json!({"sub": "u", "name": "Grace", "exp": now() - 3600}));
    assert!(refusal(&server, &expired).await.contains("expired"));
    for (claims, missing) in [
        (json!({"name": "Grace", "exp": now() + 600}), "`sub`"),
        (json!({"sub": "u", "exp": now() + 600}), "`name`"),
        (json!({"sub": "u", "name": "Grace"}), "`exp`"),
    ] {
        let why = refusal(&server, &hs256(&claims)).await;
        assert!(why.contains(missing) && why.contains("required"), "{why}");
    }
    let long_sub = hs256(&json!({"sub": "x".repeat(129), "name": "Grace", "exp": now() + 600}));
    assert!(refusal(&server, &long_sub).await.contains("`sub`"));
    let spaced_sub = hs256(&json!({"sub": "a b", "name": "Grace", "exp": now() + 600}));
    assert!(refusal(&server, &spaced_sub).await.contains("visible ASCII"));
    let rsa = EncodingKey::from_rsa_pem(&std::fs::read(fixture("rs256.key")).unwrap()).unwrap();
    let other_algorithm = sign(Algorithm::RS256, &rsa, &claims);
    assert!(refusal(&server, &other_algorithm).await.contains("HS256"));
    server.stop().await;
}

#[tokio::test]
async fn public_keys_of_each_kind_verify_their_tokens() {
    let kinds = [
        ("rs256", Algorithm::RS256, EncodingKey::from_rsa_pem as fn(&[u8]) -> _),
        ("es256", Algorithm::ES256, EncodingKey::from_ec_pem),
        ("ed25519", Algorithm::EdDSA, EncodingKey::from_ed_pem),
    ];
    for (name, algorithm, private) in kinds {
        let public = fixture(&format!("{name}.pub"));
        let server = start_with(|c| c.jwt_public_key = Some(public)).await;
        let key = private(&std::fs::read(fixture(&format!("{name}.key"))).unwrap()).unwrap();
        let token = sign(algorithm, &key, &json!({"sub": "app-user-7", "name": "Ada", "exp": now() + 600}));
        let ada = Client::connect(&server.ws_url(&format!("room=&token={token}"))).await.unwrap();
        assert_ne!(ada.user_id.to_string(), "", "{name}");
        let forged = hs256(&json!({"sub": "app-user-7", "name": "Ada", "exp": now() + 600}));
        refusal(&server, &forged).await;
        server.stop().await;
    }
}
