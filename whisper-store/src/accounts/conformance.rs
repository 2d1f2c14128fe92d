//! What every [`AccountStore`] does, checked against a fresh store.

use whisper_core::model::{DisplayName, UserId};

use super::{Account, AccountError, AccountStore, NewAccount, NewSession, TOUCH_EVERY_MS};

fn account(email: &str, name: &str) -> NewAccount {
    NewAccount {
        account: Account {
            user_id: UserId::random(),
            email: email.into(),
            name: DisplayName::parse(name).unwrap(),
            created_at: 1_700_000_000_000,
        },
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    }
}

fn session(id: &str, user: UserId, byte: u8, created_at: i64) -> NewSession {
    NewSession {
        id: id.into(),
        token_hash: [byte; 32],
        user_id: user,
        created_at,
        expires_at: created_at + 1_000_000,
        user_agent: Some("test".into()),
    }
}

/// Runs every check on `store`, which must hold no accounts.
pub async fn check(store: &dyn AccountStore) {
    let ada = account("ada@example.com", "Ada");
    let created = store.create(ada.clone()).await.expect("create");
    assert_eq!(created, ada.account);
    let again = |email: &str, name: &str| {
        let mut a = account(email, name);
        a.account.user_id = UserId::random();
        a
    };
    assert_eq!(store.create(again("ada@example.com", "Other")).await, Err(AccountError::EmailTaken));
    assert_eq!(store.create(again("x@example.com", "ADA")).await, Err(AccountError::NameTaken), "names ignore case");
    let mut same_user = account("y@example.com", "Yves");
    same_user.account.user_id = ada.account.user_id;
    assert_eq!(store.create(same_user).await, Err(AccountError::UserTaken));

    let (found, hash) = store.by_email("ada@example.com").await.expect("by_email").expect("found");
    assert_eq!((found, hash), (ada.account.clone(), ada.password_hash.clone()));
    assert_eq!(store.by_email("nobody@example.com").await.expect("by_email"), None);
    assert_eq!(store.account(ada.account.user_id).await.expect("account"), Some(ada.account.clone()));
    assert_eq!(store.account(UserId::random()).await.expect("account"), None);

    // Renames keep names unique, in any case; a rename to one's own name in
    // another case is allowed.
    let bob = store.create(account("bob@example.com", "Bob")).await.expect("create bob");
    assert_eq!(store.rename(bob.user_id, &DisplayName::parse("ada").unwrap()).await, Err(AccountError::NameTaken));
    let renamed = store.rename(bob.user_id, &DisplayName::parse("BOB").unwrap()).await.expect("rename").unwrap();
    assert_eq!(renamed.name.as_str(), "BOB");
    assert_eq!(store.rename(UserId::random(), &DisplayName::parse("Zed").unwrap()).await, Ok(None));

    // Sessions: found by token hash until expiry or end; listed per user.
    let user = ada.account.user_id;
    let t0 = 1_800_000_000_000;
    store.start_session(session("s1", user, 1, t0)).await.expect("start");
    store.start_session(session("s2", user, 2, t0 + 10)).await.expect("start");
    store.start_session(session("sb", bob.user_id, 3, t0)).await.expect("start");
    let (info, owner) = store.session(&[1; 32], t0 + 5).await.expect("session").expect("live");
    assert_eq!((info.id.as_str(), owner.user_id), ("s1", user));
    assert_eq!(info.last_used_at, t0, "used again within a minute: not written");
    let later = t0 + TOUCH_EVERY_MS + 1;
    store.session(&[1; 32], later).await.expect("session").expect("live");
    let listed = store.sessions(user, later).await.expect("sessions");
    assert_eq!(listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["s1", "s2"], "most recently used first");
    assert_eq!(listed[0].last_used_at, later);
    assert_eq!(store.session(&[9; 32], t0).await.expect("session"), None);

    assert!(!store.end_session(bob.user_id, "s1").await.expect("end"), "not one's own session");
    assert!(store.end_session(user, "s1").await.expect("end"));
    assert_eq!(store.session(&[1; 32], later).await.expect("session"), None);
    assert!(!store.end_session(user, "s1").await.expect("end"), "ended already");

    // Expiry: no longer found, nor listed.
    assert_eq!(store.session(&[2; 32], t0 + 1_000_010).await.expect("session"), None);
    assert!(store.sessions(user, t0 + 1_000_010).await.expect("sessions").is_empty());
}
