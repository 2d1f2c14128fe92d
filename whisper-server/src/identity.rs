//! Identity tokens (protocol.md §1): `v1.<user id>.<hex HMAC-SHA256 of the user id>`
//! under a server secret. The token proves the user id was issued here; it
//! carries nothing else, so it never expires with the server's restarts.

use std::io;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use whisper_core::model::UserId;

type HmacSha256 = Hmac<Sha256>;

/// Issues and verifies identity tokens.
#[derive(Clone)]
pub struct Identity {
    key: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity { key: <secret> }")
    }
}

impl Identity {
    /// Signs with `secret`.
    pub fn from_secret(secret: &[u8]) -> Identity {
        Identity { key: secret.to_vec() }
    }

    /// Uses the configured secret, or the one kept in `<data_dir>/secret`,
    /// generating it on first start.
    pub fn load_or_create(data_dir: &Path, configured: Option<&str>) -> io::Result<Identity> {
        if let Some(secret) = configured {
            return Ok(Identity::from_secret(secret.as_bytes()));
        }
        let path = data_dir.join("secret");
        match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().len() >= 32 => return Ok(Identity::from_secret(text.trim().as_bytes())),
            Ok(_) => {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{} is too short", path.display())));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(data_dir)?;
        // Two UUID v4s: 244 random bits from the OS generator, without a
        // dependency of its own.
        let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        write_private(&path, &secret)?;
        Ok(Identity::from_secret(secret.as_bytes()))
    }

    fn mac(&self, user: UserId) -> HmacSha256 {
        // HMAC accepts keys of any length.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable_key());
        mac.update(user.as_bytes());
        mac
    }

    /// A token for `user`.
    pub fn issue(&self, user: UserId) -> String {
        let tag = self.mac(user).finalize().into_bytes();
        format!("v1.{user}.{}", hex(&tag))
    }

    /// The user a token was issued to, if it is genuine.
    pub fn verify(&self, token: &str) -> Option<UserId> {
        let rest = token.strip_prefix("v1.")?;
        let (user, tag) = rest.split_once('.')?;
        let user = UserId::parse(user).ok()?;
        let tag = unhex(tag)?;
        // Constant-time comparison inside verify_slice.
        self.mac(user).verify_slice(&tag).ok()?;
        Some(user)
    }
}

fn unreachable_key() -> HmacSha256 {
    // new_from_slice fails only for fixed-size-key MACs; HMAC has none.
    <HmacSha256 as KeyInit>::new_from_slice(b"whisperchat").unwrap_or_else(|_| std::process::abort())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || text.len() > 128 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(unix)]
fn write_private(path: &Path, secret: &str) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, secret: &str) -> io::Result<()> {
    std::fs::write(path, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_under_its_secret_and_for_its_user() {
        let identity = Identity::from_secret(b"0123456789abcdef0123456789abcdef");
        let user = UserId::random();
        let token = identity.issue(user);
        assert_eq!(identity.verify(&token), Some(user));
        let other = Identity::from_secret(b"another secret, another server..");
        assert_eq!(other.verify(&token), None, "forged under another secret");
        let someone = UserId::random();
        let swapped = token.replace(&user.to_string(), &someone.to_string());
        assert_eq!(identity.verify(&swapped), None, "another user's id with this tag");
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('0') { '1' } else { '0' });
        assert_eq!(identity.verify(&tampered), None);
        for junk in ["", "v1.", "v2.x.y", "v1.not-a-uuid.00", &format!("v1.{user}.zz")] {
            assert_eq!(identity.verify(junk), None, "{junk}");
        }
    }

    #[test]
    fn the_generated_secret_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = Identity::load_or_create(dir.path(), None).unwrap();
        let user = UserId::random();
        let token = first.issue(user);
        let again = Identity::load_or_create(dir.path(), None).unwrap();
        assert_eq!(again.verify(&token), Some(user));
    }
}
