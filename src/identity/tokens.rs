//! Access tokens: short-lived JWTs signed with Ed25519 (`alg: EdDSA`, RFC 8037), so any instance
//! verifies them without a database round trip for the signature. Refresh tokens are opaque
//! random strings stored hashed (see `sessions.rs`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ring::digest;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{Assurance, Subject};
use crate::identity::errors::IdentityProblem;
use crate::keys::{SigningKey, signature_is_valid};

/// Tokens are accepted this many seconds after `exp`, for clocks a little apart.
const CLOCK_LEEWAY_SECONDS: i64 = 30;
const ISSUER: &str = "fingertip";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    /// `citizen:<uuid>`, `enterprise:<uuid>` or `staff:<uuid>`.
    pub sub: String,
    /// The session (refresh-token family) this token belongs to.
    pub sid: Uuid,
    /// Assurance level 1–3.
    pub lvl: i16,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token is malformed")]
    Malformed,
    #[error("the access token's signature is invalid")]
    BadSignature,
    #[error("the access token has expired")]
    Expired,
}

impl TokenError {
    /// The declared problem it is sent as.
    pub fn problem(self) -> IdentityProblem {
        match self {
            TokenError::Malformed => IdentityProblem::TokenMalformed,
            TokenError::BadSignature => IdentityProblem::TokenInvalid,
            TokenError::Expired => IdentityProblem::TokenExpired,
        }
    }

    pub fn code(self) -> &'static str {
        self.problem().code()
    }
}

/// What a verified access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAccess {
    pub subject: Subject,
    pub session_id: Uuid,
    pub assurance: Assurance,
    pub expires_at: i64,
}

impl VerifiedAccess {
    /// Whether the token has expired at `now` (after the clock leeway).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now.timestamp() > self.expires_at + CLOCK_LEEWAY_SECONDS
    }
}

pub struct TokenSigner {
    key: SigningKey,
    key_id: String,
    lifetime_seconds: i64,
}

impl TokenSigner {
    pub fn new(key: SigningKey, lifetime_seconds: i64) -> TokenSigner {
        // The key id is a short digest of the public key, so a rotated key is told apart.
        let key_id = hex::encode(&digest::digest(&digest::SHA256, key.public_key()).as_ref()[..8]);
        TokenSigner {
            key,
            key_id,
            lifetime_seconds,
        }
    }

    pub fn lifetime_seconds(&self) -> i64 {
        self.lifetime_seconds
    }

    /// The raw Ed25519 public key, published so other services can verify tokens.
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key()
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A signed access token for `subject` in `session_id`, valid from `now`.
    pub fn issue(
        &self,
        subject: Subject,
        session_id: Uuid,
        assurance: Assurance,
        now: DateTime<Utc>,
    ) -> String {
        let header = Header {
            alg: "EdDSA".to_owned(),
            typ: "JWT".to_owned(),
            kid: self.key_id.clone(),
        };
        let claims = AccessClaims {
            iss: ISSUER.to_owned(),
            sub: subject.to_string(),
            sid: session_id,
            lvl: assurance.level(),
            iat: now.timestamp(),
            exp: now.timestamp() + self.lifetime_seconds,
        };
        // Serializing these plain structs cannot fail; an empty segment would fail verification.
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
        let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signing_input = format!("{header}.{claims}");
        let signature = URL_SAFE_NO_PAD.encode(self.key.sign(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }

    /// Checks the signature, issuer and expiry of `token` at `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedAccess, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_segment(header)?;
        if header.alg != "EdDSA" {
            return Err(TokenError::BadSignature);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let signing_input_len = token.len() - token.rsplit('.').next().map_or(0, str::len) - 1;
        let signing_input = &token.as_bytes()[..signing_input_len];
        if header.kid != self.key_id
            || !signature_is_valid(self.key.public_key(), signing_input, &signature)
        {
            return Err(TokenError::BadSignature);
        }
        let claims: AccessClaims = decode_segment(claims)?;
        if claims.iss != ISSUER {
            return Err(TokenError::BadSignature);
        }
        let subject = claims.sub.parse().map_err(|_| TokenError::Malformed)?;
        let assurance = Assurance::from_level(claims.lvl).ok_or(TokenError::Malformed)?;
        let verified = VerifiedAccess {
            subject,
            session_id: claims.sid,
            assurance,
            expires_at: claims.exp,
        };
        if verified.is_expired(now) {
            return Err(TokenError::Expired);
        }
        Ok(verified)
    }
}

fn decode_segment<T: serde::de::DeserializeOwned>(segment: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn signer() -> TokenSigner {
        TokenSigner::new(SigningKey::generate().unwrap(), 900)
    }

    #[test]
    fn an_issued_token_verifies_until_it_expires() {
        let signer = signer();
        let now = crate::clock::system_time();
        let subject = Subject::Citizen(Uuid::new_v4());
        let session = Uuid::new_v4();
        let token = signer.issue(subject, session, Assurance::RealNameVerified, now);
        let verified = signer.verify(&token, now + Duration::seconds(899)).unwrap();
        assert_eq!(verified.subject, subject);
        assert_eq!(verified.session_id, session);
        assert_eq!(verified.assurance, Assurance::RealNameVerified);
        assert_eq!(
            signer.verify(
                &token,
                now + Duration::seconds(900 + CLOCK_LEEWAY_SECONDS + 1)
            ),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let signer = signer();
        let now = crate::clock::system_time();
        let token = signer.issue(
            Subject::Citizen(Uuid::new_v4()),
            Uuid::new_v4(),
            Assurance::PhoneProven,
            now,
        );
        // Another subject's claims under the original signature.
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&AccessClaims {
                iss: ISSUER.to_owned(),
                sub: format!("staff:{}", Uuid::new_v4()),
                sid: Uuid::new_v4(),
                lvl: 3,
                iat: now.timestamp(),
                exp: now.timestamp() + 900,
            })
            .unwrap(),
        );
        let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
        assert_eq!(signer.verify(&forged, now), Err(TokenError::BadSignature));
        // Signed by another key.
        let other = signer_other().issue(
            Subject::Citizen(Uuid::new_v4()),
            Uuid::new_v4(),
            Assurance::PhoneProven,
            now,
        );
        assert_eq!(signer.verify(&other, now), Err(TokenError::BadSignature));
        // "alg: none" and garbage.
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"x"}"#);
        let unsigned = format!("{}.{}.", none_header, parts[1]);
        assert!(signer.verify(&unsigned, now).is_err());
        assert_eq!(signer.verify("abc", now), Err(TokenError::Malformed));
        assert_eq!(signer.verify("a.b.c.d", now), Err(TokenError::Malformed));
    }

    fn signer_other() -> TokenSigner {
        signer()
    }
}
