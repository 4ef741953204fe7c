//! API tokens: 256 random bits, shown once, stored only as a SHA-256 hash.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// Every token starts with this, so leaked tokens are easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "blk_";

/// A new random token.
pub fn generate() -> String {
    format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    )
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The part of a token shown in lists.
pub fn display_prefix(token: &str) -> String {
    token.chars().take(TOKEN_PREFIX.len() + 6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(
            a.len(),
            TOKEN_PREFIX.len() + 43,
            "32 bytes in unpadded base64url"
        );
        assert_eq!(hash(&a).len(), 64);
        assert_eq!(hash(&a), hash(&a.clone()));
        assert_eq!(display_prefix(&a).len(), 10);
    }
}
