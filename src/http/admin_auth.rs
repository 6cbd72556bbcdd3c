//! The admin API's bearer token, until staff login arrives with the identity capability.
//! Compared by SHA-256 digest in constant time so response timing reveals nothing.

use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use ring::digest;

use super::problem::AppError;
use crate::config::Secret;

/// Bearer token for the admin API (`Authorization: Bearer <FINGERTIP_ADMIN_TOKEN>`).
#[derive(SecurityScheme)]
#[oai(ty = "bearer")]
pub struct AdminBearer(pub Bearer);

/// Who performed an admin action, as recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

#[derive(Clone)]
pub struct AdminGate {
    token_digest: Option<Vec<u8>>,
}

impl AdminGate {
    pub fn new(token: Option<&Secret>) -> Self {
        AdminGate {
            token_digest: token.map(|t| {
                digest::digest(&digest::SHA256, t.expose().as_bytes())
                    .as_ref()
                    .to_vec()
            }),
        }
    }

    pub fn is_configured(&self) -> bool {
        self.token_digest.is_some()
    }

    pub fn check(&self, bearer: &AdminBearer) -> Result<Actor, AppError> {
        let Some(expected) = &self.token_digest else {
            return Err(AppError::Unauthorized {
                code: "admin_disabled",
                detail: "the admin API is disabled: no admin token is configured".to_owned(),
            });
        };
        let presented = digest::digest(&digest::SHA256, bearer.0.token.as_bytes());
        let mut difference = 0u8;
        for (a, b) in expected.iter().zip(presented.as_ref()) {
            difference |= a ^ b;
        }
        if difference == 0 {
            Ok(Actor("admin-token".to_owned()))
        } else {
            Err(AppError::Unauthorized {
                code: "unauthorized",
                detail: "invalid admin token".to_owned(),
            })
        }
    }
}
