//! Staff passwords: argon2id with OWASP's minimum parameters (m = 19456 KiB, t = 2, p = 1),
//! stored as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), which carry their own
//! parameters so that stronger settings later still verify old hashes.
//!
//! Hashing takes tens of milliseconds of CPU and 19 MiB of memory by design. On the async
//! runtime it must not run on a worker thread: call [`hash_password_blocking`],
//! [`verify_password_blocking`] and [`verify_against_dummy_blocking`], which move the work to
//! `tokio::task::spawn_blocking`.
//!
//! A login for an unknown user name calls [`verify_against_dummy`] so that it takes as long as
//! a wrong password for a real user, and the response time does not reveal which names exist.

use crate::identity::errors::IdentityProblem;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};

/// OWASP Password Storage Cheat Sheet, argon2id minimum configuration.
pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;
pub const MIN_LENGTH: usize = 10;
/// Longer passwords are refused before hashing, so a megabyte "password" cannot cost CPU.
pub const MAX_LENGTH: usize = 128;
/// Character classes (lower, upper, digit, other) a password must mix.
pub const MIN_CLASSES: usize = 3;

/// A hash with the same parameters as [`hash_password`] produces, of a random password nobody
/// knows, verified against when the user does not exist. A constant (rather than one computed at
/// start) so that the first such login is not slower than the others.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$1V9fAVIpalUNvuIIsXkq2g$hFoDM4qkbsVorKZFVtdsh+ZiTlBQdBTM7+D2pOtZNaA";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The blocking task did not finish (runtime shutting down, or it panicked).
    #[error("password hashing task failed: {0}")]
    Task(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    #[error("the password must have at least {min} characters")]
    TooShort { min: usize },
    #[error("the password must have at most {max} characters")]
    TooLong { max: usize },
    #[error(
        "the password must mix at least {required} of: lower-case letters, upper-case letters, digits, other characters (it has {found})"
    )]
    TooSimple { required: usize, found: usize },
}

impl PasswordPolicyError {
    /// The declared problem it is sent as.
    pub fn problem(&self) -> IdentityProblem {
        match self {
            PasswordPolicyError::TooShort { .. } => IdentityProblem::PasswordTooShort,
            PasswordPolicyError::TooLong { .. } => IdentityProblem::PasswordTooLong,
            PasswordPolicyError::TooSimple { .. } => IdentityProblem::PasswordTooSimple,
        }
    }

    /// Stable machine code, for problem+json field errors.
    pub fn code(&self) -> &'static str {
        self.problem().code()
    }

    /// English explanation for a field error's `detail`.
    pub fn field_detail(&self) -> String {
        self.to_string()
    }

    pub fn field_error(&self, field: impl Into<String>) -> crate::http::problem::FieldError {
        crate::http::problem::FieldError::new(field, self.code(), self.field_detail())
    }
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes with a fresh random salt; returns the PHC string. CPU heavy: see the module docs.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let hash = hasher()?
        .hash_password(password.as_bytes())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Hashes with explicit argon2id parameters (memory KiB, passes, lanes): for test fixtures, whose
/// logins should be quick; verification reads the parameters from the PHC string.
pub fn hash_password_with_params(
    password: &str,
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
) -> Result<String, PasswordError> {
    let params = Params::new(m_cost_kib, t_cost, p_cost, None)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string (whose own parameters are used; the comparison is
/// constant-time in the argon2 crate). A malformed PHC string is a mismatch. CPU heavy.
pub fn verify_password(password: &str, phc: &str) -> bool {
    // Refused before hashing, like the policy, so an attacker cannot make us hash megabytes.
    if password.chars().count() > MAX_LENGTH {
        let _ = verify_against_dummy(password);
        return false;
    }
    match hasher() {
        Ok(argon2) => argon2.verify_password(password.as_bytes(), phc).is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one [`verify_password`] and returns `false`: for logins whose user name
/// does not exist.
pub fn verify_against_dummy(password: &str) -> bool {
    let truncated: String = password.chars().take(MAX_LENGTH).collect();
    if let Ok(argon2) = hasher() {
        let _ = argon2.verify_password(truncated.as_bytes(), DUMMY_PHC);
    }
    false
}

fn join_error(e: tokio::task::JoinError) -> PasswordError {
    PasswordError::Task(e.to_string())
}

/// [`hash_password`] on the blocking thread pool.
pub async fn hash_password_blocking(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(join_error)?
}

/// [`verify_password`] on the blocking thread pool; a failed task is a mismatch.
pub async fn verify_password_blocking(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false)
}

/// [`verify_against_dummy`] on the blocking thread pool; always `false`.
pub async fn verify_against_dummy_blocking(password: String) -> bool {
    let _ = tokio::task::spawn_blocking(move || verify_against_dummy(&password)).await;
    false
}

/// The password rules for staff: 10 to 128 characters, mixing at least 3 of lower-case,
/// upper-case, digits and other characters (anything else, including Chinese characters).
pub fn check_password_policy(password: &str) -> Result<(), PasswordPolicyError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(PasswordPolicyError::TooShort { min: MIN_LENGTH });
    }
    if length > MAX_LENGTH {
        return Err(PasswordPolicyError::TooLong { max: MAX_LENGTH });
    }
    let mut classes = [false; 4];
    for ch in password.chars() {
        let class = if ch.is_ascii_lowercase() {
            0
        } else if ch.is_ascii_uppercase() {
            1
        } else if ch.is_ascii_digit() {
            2
        } else {
            3
        };
        classes[class] = true;
    }
    let found = classes.iter().filter(|c| **c).count();
    if found < MIN_CLASSES {
        return Err(PasswordPolicyError::TooSimple {
            required: MIN_CLASSES,
            found,
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn hash_and_verify() {
        let phc = hash_password("Correct-Horse-9").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password("Correct-Horse-9", &phc));
        assert!(!verify_password("correct-horse-9", &phc));
        assert!(!verify_password("", &phc));
        // Salted: the same password hashes differently.
        assert_ne!(phc, hash_password("Correct-Horse-9").unwrap());
    }

    #[test]
    fn malformed_hashes_do_not_verify() {
        assert!(!verify_password("x", ""));
        assert!(!verify_password("x", "not a phc string"));
        assert!(!verify_password(
            "x",
            "$argon2id$v=19$m=19456,t=2,p=1$AAAA$AAAA"
        ));
    }

    #[test]
    fn older_parameters_still_verify() {
        let weaker = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"Old-password-1")
        .unwrap()
        .to_string();
        assert!(verify_password("Old-password-1", &weaker));
    }

    #[test]
    fn dummy_hash_has_the_current_parameters() {
        let prefix = format!("$argon2id$v=19$m={M_COST_KIB},t={T_COST},p={P_COST}$");
        assert!(DUMMY_PHC.starts_with(&prefix));
        assert!(argon2::PasswordHash::new(DUMMY_PHC).is_ok());
        assert!(!verify_against_dummy("anything"));
        assert!(!verify_against_dummy(""));
    }

    #[test]
    fn dummy_takes_about_as_long_as_a_real_verification() {
        let phc = hash_password("Real-password-1").unwrap();
        // Warm up, then take the best of three of each, to damp scheduler noise.
        let _ = verify_password("x", &phc);
        let best = |f: &dyn Fn()| {
            (0..3)
                .map(|_| {
                    let start = Instant::now();
                    f();
                    start.elapsed()
                })
                .min()
                .unwrap()
        };
        let real = best(&|| {
            let _ = verify_password("Wrong-password-1", &phc);
        });
        let dummy = best(&|| {
            let _ = verify_against_dummy("Wrong-password-1");
        });
        let ratio = dummy.as_secs_f64() / real.as_secs_f64();
        assert!(
            (0.33..3.0).contains(&ratio),
            "real {real:?}, dummy {dummy:?}"
        );
    }

    #[test]
    fn overlong_passwords_are_not_hashed_in_full() {
        let phc = hash_password("Real-password-1").unwrap();
        let long = "a".repeat(1_000_000);
        assert!(!verify_password(&long, &phc));
    }

    #[tokio::test]
    async fn blocking_helpers() {
        let phc = hash_password_blocking("Blocking-pass-1".to_owned())
            .await
            .unwrap();
        assert!(verify_password_blocking("Blocking-pass-1".to_owned(), phc.clone()).await);
        assert!(!verify_password_blocking("nope".to_owned(), phc).await);
        assert!(!verify_against_dummy_blocking("Blocking-pass-1".to_owned()).await);
    }

    #[test]
    fn policy() {
        assert_eq!(check_password_policy("Abcdefgh1!"), Ok(()));
        assert_eq!(
            check_password_policy("abcdefgh12"),
            Err(PasswordPolicyError::TooSimple {
                required: 3,
                found: 2
            })
        );
        assert_eq!(
            check_password_policy("abcdefghij"),
            Err(PasswordPolicyError::TooSimple {
                required: 3,
                found: 1
            })
        );
        assert_eq!(
            check_password_policy("Abcdefghij"),
            Err(PasswordPolicyError::TooSimple {
                required: 3,
                found: 2
            })
        );
        assert_eq!(check_password_policy("abcdefgh1-"), Ok(()));
        assert_eq!(check_password_policy("政务服务abcdefG"), Ok(()));
        assert_eq!(
            check_password_policy("Ab1!"),
            Err(PasswordPolicyError::TooShort { min: 10 })
        );
        // Characters, not bytes: nine Chinese characters are too short.
        assert_eq!(
            check_password_policy("政务服务政务服务政"),
            Err(PasswordPolicyError::TooShort { min: 10 })
        );
        assert_eq!(
            check_password_policy(&format!("Ab1{}", "x".repeat(125))),
            Ok(())
        );
        assert_eq!(
            check_password_policy(&format!("Ab1{}", "x".repeat(126))),
            Err(PasswordPolicyError::TooLong { max: 128 })
        );
    }

    #[test]
    fn policy_codes() {
        assert_eq!(
            PasswordPolicyError::TooShort { min: 10 }.code(),
            "password_too_short"
        );
        assert_eq!(
            PasswordPolicyError::TooLong { max: 128 }.code(),
            "password_too_long"
        );
        let simple = PasswordPolicyError::TooSimple {
            required: 3,
            found: 1,
        };
        assert_eq!(simple.code(), "password_too_simple");
        assert!(simple.field_detail().contains("at least 3"));
        assert_eq!(simple.field_error("password").code, "password_too_simple");
    }
}
