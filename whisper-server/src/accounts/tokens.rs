//! Sign-in session tokens: 32 random bytes the client holds, of which the
//! server keeps only the SHA-256 (protocol.md §14). A database leak then
//! yields nothing a client could present.

use sha2::{Digest, Sha256};

/// What every session token starts with, so it is told from a guest token
/// (`v1.…`) at a glance.
pub const PREFIX: &str = "ws1.";

/// A new token and its hash.
pub fn issue() -> Result<(String, [u8; 32]), getrandom::Error> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)?;
    let token = format!("{PREFIX}{}", crate::identity::hex(&secret));
    let hash = digest(&token);
    Ok((token, hash))
}

/// A session's public id: 16 random bytes, in hex, prefixed `s_`.
pub fn session_id() -> Result<String, getrandom::Error> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id)?;
    Ok(format!("s_{}", crate::identity::hex(&id)))
}

/// The hash a token is looked up by. Looking up by hash needs no
/// constant-time comparison: equal hashes are found by an index, and a
/// near miss of the hash says nothing about the token.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `token` has the shape [`issue`] writes (so other strings are
/// refused without a store lookup).
pub fn looks_like(token: &str) -> bool {
    token.strip_prefix(PREFIX).is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, hash) = issue().unwrap();
        let (b, _) = issue().unwrap();
        assert_ne!(a, b);
        assert!(looks_like(&a), "{a}");
        assert_eq!(digest(&a), hash);
        assert!(!looks_like("v1.whatever"));
        assert!(!looks_like(&format!("{PREFIX}{}", "z".repeat(64))));
        assert!(session_id().unwrap().starts_with("s_"));
    }
}
