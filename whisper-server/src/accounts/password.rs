//! Passwords: the rule a new one must meet, and Argon2id hashing on a
//! blocking thread (protocol.md §14).
//!
//! Parameters: Argon2id v19, 19 MiB of memory, 2 passes, 1 lane (the
//! `argon2` crate's defaults, OWASP's first recommendation), a 16-byte random
//! salt per password, stored as a PHC string that carries them, so stronger
//! parameters later still verify old hashes.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Most bytes a password may have: hashing is paid per byte, and nobody
/// types more.
pub const MAX_PASSWORD_BYTES: usize = 256;

/// The rule, as the docs and the error say it.
pub const RULE: &str =
    "a password needs at least 10 characters (at most 256 bytes) and must not be the email or the name";

/// Why `password` may not be used by an account with `email` and `name`.
pub fn weakness(password: &str, email: &str, name: &str) -> Option<&'static str> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Some(RULE);
    }
    let lower = password.to_lowercase();
    if lower == email.to_lowercase() || lower == name.to_lowercase() {
        return Some(RULE);
    }
    None
}

/// Hashes `password` with a fresh salt, off the async threads.
pub async fn hash(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Whether `password` matches `hash` (constant-time in the comparison).
/// With no hash (an unknown email), a fixed one is checked instead, so an
/// unknown email costs as long as a wrong password and the two cannot be
/// told apart by timing.
pub async fn verify(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let hash = hash.as_deref().unwrap_or_else(|| decoy());
        let Ok(parsed) = PasswordHash::new(hash) else { return false };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
    })
    .await
    .unwrap_or(false)
}

/// The hash of a random password nobody knows, with the parameters of
/// every other hash, made once.
fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let unknown = uuid::Uuid::new_v4().to_string();
        Argon2::default().hash_password(unknown.as_bytes()).map(|h| h.to_string()).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_the_rule_holds() {
        let hashed = hash("correct horse battery".into()).await.unwrap();
        assert!(hashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hashed}");
        assert!(verify("correct horse battery".into(), Some(hashed.clone())).await);
        assert!(!verify("wrong horse battery".into(), Some(hashed)).await);
        assert!(!verify("anything at all".into(), None).await, "the decoy matches nothing");
        assert!(PasswordHash::new(decoy()).is_ok(), "the decoy is a real hash, so it costs the same");

        assert_eq!(weakness("short", "a@b.c", "Ada"), Some(RULE));
        assert_eq!(weakness("ada@example.com", "ADA@example.com", "Ada"), Some(RULE));
        assert_eq!(weakness("Ada Lovelace", "a@b.c", "ada lovelace"), Some(RULE));
        assert_eq!(weakness(&"x".repeat(257), "a@b.c", "Ada"), Some(RULE));
        assert_eq!(weakness("ten chars!", "a@b.c", "Ada"), None);
    }
}
