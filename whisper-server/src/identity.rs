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
    /// generating it on first start. A secret that [`weakness`] finds weak
    /// is refused: from one token of their own, anyone could recover a weak
    /// key by brute force and forge every user's token.
    pub fn load_or_create(data_dir: &Path, configured: Option<&str>) -> io::Result<Identity> {
        if let Some(secret) = configured {
            if let Some(why) = weakness(secret.as_bytes()) {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("the configured secret {why}")));
            }
            return Ok(Identity::from_secret(secret.as_bytes()));
        }
        let path = data_dir.join("secret");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                return match weakness(text.trim().as_bytes()) {
                    None => Ok(Identity::from_secret(text.trim().as_bytes())),
                    Some(why) => Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the secret in {} {why}", path.display()),
                    )),
                };
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

    /// The user a token was issued to, if it is genuine. Only the spelling
    /// [`issue`](Identity::issue) writes is accepted (a lower-case hyphenated
    /// user id, 64 lower-case hex digits): one token, one string, so a token
    /// can be compared, logged or revoked as a string.
    pub fn verify(&self, token: &str) -> Option<UserId> {
        let rest = token.strip_prefix("v1.")?;
        let (id, tag) = rest.split_once('.')?;
        let user = UserId::parse(id).ok()?;
        if id != user.to_string() || tag.len() != 64 || tag.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let tag = unhex(tag)?;
        // Constant-time comparison inside verify_slice.
        self.mac(user).verify_slice(&tag).ok()?;
        Some(user)
    }
}

/// Fewest bytes a secret may have.
pub const MIN_SECRET_BYTES: usize = 32;

/// Least entropy a secret may carry, in bits, as estimated by [`weakness`].
/// The estimate runs low for short random strings (32 random hex digits
/// hold 128 bits but score about 120), so the bar sits below 128.
const MIN_SECRET_BITS: f64 = 96.0;

/// Why `secret` is too weak to sign tokens, if it is: shorter than
/// [`MIN_SECRET_BYTES`], or carrying under 96 bits by the byte-frequency
/// (Shannon) estimate — a repeated character or a short pattern repeated
/// to length. The estimate cannot see that a phrase is guessable; it only
/// stops the mistakes a missing variable or a placeholder make.
pub fn weakness(secret: &[u8]) -> Option<String> {
    const ADVICE: &str = "(generate one with `openssl rand -hex 32`)";
    if secret.len() < MIN_SECRET_BYTES {
        return Some(format!("is too short ({} of at least {MIN_SECRET_BYTES} bytes) {ADVICE}", secret.len()));
    }
    let mut counts = [0usize; 256];
    for &b in secret {
        counts[usize::from(b)] += 1;
    }
    let len = secret.len() as f64;
    let bits_per_byte: f64 = counts.iter().filter(|&&n| n > 0).map(|&n| n as f64 / len).map(|p| -p * p.log2()).sum();
    let bits = bits_per_byte * len;
    (bits < MIN_SECRET_BITS)
        .then(|| format!("has too little entropy (about {bits:.0} bits; at least {MIN_SECRET_BITS}) {ADVICE}"))
}

fn unreachable_key() -> HmacSha256 {
    // new_from_slice fails only for fixed-size-key MACs; HMAC has none.
    <HmacSha256 as KeyInit>::new_from_slice(b"whisperchat").unwrap_or_else(|_| std::process::abort())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
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
        let (id, tag) = token.strip_prefix("v1.").unwrap().split_once('.').unwrap();
        let other_spellings = [
            format!("v1.{id}.{}", tag.to_uppercase()),
            format!("v1.{}.{tag}", id.to_uppercase()),
            format!("v1.{}.{tag}", id.replace('-', "")),
            format!("v1.{{{id}}}.{tag}"),
            format!("v1.urn:uuid:{id}.{tag}"),
            format!("v1.{id}.+{tag}"),
        ];
        for spelling in &other_spellings {
            assert_eq!(identity.verify(spelling), None, "one canonical spelling: {spelling}");
        }
        for junk in ["", "v1.", "v2.x.y", "v1.not-a-uuid.00", &format!("v1.{user}.zz")] {
            assert_eq!(identity.verify(junk), None, "{junk}");
        }
    }

    #[test]
    fn weak_secrets_are_refused_and_strong_ones_taken() {
        for weak in ["", "a", "short but not empty", &"a".repeat(64), &"ab".repeat(32), &"0123".repeat(8)] {
            assert!(weakness(weak.as_bytes()).is_some(), "{weak:?} should be weak");
            let dir = tempfile::tempdir().unwrap();
            let err = Identity::load_or_create(dir.path(), Some(weak)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{weak:?}");
            assert!(err.to_string().contains("openssl rand -hex 32"), "{err}");
        }
        for strong in [
            "0123456789abcdef0123456789abcdef",
            "4f1c2b9e7a06d3858e2f41c7b09ad6e3",
            "correct horse battery staple, twice over",
        ] {
            assert_eq!(weakness(strong.as_bytes()), None, "{strong:?} should be strong enough");
        }
        let generated = Identity::load_or_create(tempfile::tempdir().unwrap().path(), None);
        assert!(generated.is_ok(), "the generated default passes its own check");
    }

    #[test]
    fn a_weak_secret_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), "x".repeat(40)).unwrap();
        let err = Identity::load_or_create(dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("too little entropy"), "{err}");
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
