//! A token shared with a caller that has no account of its own: the SMS providers' receipt
//! callbacks and the metrics scraper. Only a keyed tag of the token is kept, and a presented
//! token is checked with ring's constant-time HMAC verification, so neither the time a check
//! takes nor a memory dump tells an attacker how much of a guess was right.

use ring::hmac;
use ring::rand::SystemRandom;

use crate::secret::Secret;

pub struct SharedToken {
    /// A key made for this process: the tag means nothing outside it.
    key: hmac::Key,
    tag: hmac::Tag,
}

impl SharedToken {
    pub fn new(token: &Secret) -> anyhow::Result<SharedToken> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("no randomness for the shared token's key"))?;
        let tag = hmac::sign(&key, token.expose().as_bytes());
        Ok(SharedToken { key, tag })
    }

    /// Whether `presented` is the token.
    pub fn matches(&self, presented: &str) -> bool {
        hmac::verify(&self.key, presented.as_bytes(), self.tag.as_ref()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let token = SharedToken::new(&Secret::new("scrape-0123456789abcdef0123456789")).unwrap();
        assert!(token.matches("scrape-0123456789abcdef0123456789"));
        assert!(!token.matches("scrape-0123456789abcdef012345678"));
        assert!(!token.matches("scrape-0123456789abcdef01234567890"));
        assert!(!token.matches("Scrape-0123456789abcdef0123456789"));
        assert!(!token.matches(""));
    }
}
