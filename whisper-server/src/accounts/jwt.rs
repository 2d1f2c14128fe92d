//! Identities an application issues itself (protocol.md §14): a JWT signed
//! with `--jwt-secret` (HS256) or by the key whose public half is
//! `--jwt-public-key` (RS256, ES256 or EdDSA, told apart by the key), with
//! `sub`, `name` and `exp` required. Verified by the `jsonwebtoken` crate;
//! nothing here does cryptography.
//!
//! The `sub` is the application's own user id, an [`ExternalId`] (1–128
//! visible ASCII characters): the connection is that external principal,
//! stored under the user id core derives from it, the same on every node
//! and every restart, so the application never has to make one up.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use whisper_core::model::{DisplayName, ExternalId, MAX_EXTERNAL_ID_LEN};

/// The verifier of the application's tokens.
pub struct Jwt {
    key: DecodingKey,
    algorithm: Algorithm,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Jwt {{ algorithm: {:?}, key: <secret> }}", self.algorithm)
    }
}

/// Reads a PEM public key of one kind.
type ParsePem = fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>;

/// Who a valid token says the caller is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct External {
    /// The application's own id for the user (the `sub`).
    pub id: ExternalId,
    /// The name the application gives it.
    pub name: DisplayName,
}

#[derive(serde::Deserialize)]
struct Claims {
    sub: Option<String>,
    name: Option<String>,
}

impl Jwt {
    /// HS256 with `secret`.
    pub fn hs256(secret: &[u8]) -> Result<Jwt, String> {
        let key = DecodingKey::from_secret(secret).map_err(|e| format!("--jwt-secret: {e}"))?;
        Ok(Jwt { key, algorithm: Algorithm::HS256 })
    }

    /// RS256, ES256 or EdDSA, whichever `pem` is a public key for.
    pub fn public_key(pem: &[u8]) -> Result<Jwt, String> {
        let tries: [(Algorithm, ParsePem); 3] = [
            (Algorithm::EdDSA, DecodingKey::from_ed_pem),
            (Algorithm::ES256, DecodingKey::from_ec_pem),
            (Algorithm::RS256, DecodingKey::from_rsa_pem),
        ];
        tries
            .into_iter()
            .find_map(|(algorithm, parse)| parse(pem).ok().map(|key| Jwt { key, algorithm }))
            .ok_or_else(|| "--jwt-public-key: not a PEM public key for RS256, ES256 or EdDSA".to_string())
    }

    /// Whether `token` has a JWT's shape (three base64url parts), so that
    /// other tokens are not taken for a bad JWT.
    pub fn looks_like(token: &str) -> bool {
        let parts: Vec<&str> = token.split('.').collect();
        parts.len() == 3
            && parts[0].starts_with("eyJ")
            && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    }

    /// The caller a token names, or why it is refused (a sentence for the
    /// 401 that says which check failed).
    pub fn verify(&self, token: &str) -> Result<External, String> {
        let mut validation = Validation::new(self.algorithm);
        validation.required_spec_claims = ["exp".to_string()].into();
        validation.validate_aud = false;
        let data = decode::<Claims>(token, &self.key, &validation).map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => "token: the signature does not verify".to_string(),
            ErrorKind::ExpiredSignature => "token: expired (exp is in the past)".to_string(),
            ErrorKind::MissingRequiredClaim(claim) => format!("token: the claim `{claim}` is required"),
            ErrorKind::InvalidAlgorithm => format!("token: must be signed with {:?}", self.algorithm),
            ErrorKind::ImmatureSignature => "token: not valid yet (nbf is in the future)".to_string(),
            _ => format!("token: not a valid JWT ({e})"),
        })?;
        let subject = data.claims.sub.ok_or("token: the claim `sub` is required")?;
        let id = ExternalId::parse(&subject)
            .map_err(|_| format!("token: `sub` must be 1–{MAX_EXTERNAL_ID_LEN} visible ASCII characters"))?;
        let name = data.claims.name.ok_or("token: the claim `name` is required")?;
        let name = DisplayName::parse(&name).map_err(|e| format!("token: `name` {e}"))?;
        Ok(External { id, name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwt_is_told_from_a_session_token() {
        assert!(Jwt::looks_like("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc-_"));
        assert!(!Jwt::looks_like("v1.6f1c.abcd"));
        assert!(!Jwt::looks_like(&format!("ws1.{}", "0".repeat(64))));
    }
}
