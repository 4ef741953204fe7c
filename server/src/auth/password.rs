//! Password hashing with argon2id (m = 19456 KiB, t = 2, p = 1: the OWASP minimum) and the length rules.
//! Hashing is deliberately slow: call these from `spawn_blocking`.

use std::sync::LazyLock;

use app::model::account::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS};
use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};

fn argon2() -> Argon2<'static> {
    // These parameters are constants within argon2's documented bounds.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why a password is not acceptable.
pub fn validate(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        Err(format!("Use at least {PASSWORD_MIN_CHARS} characters."))
    } else if chars > PASSWORD_MAX_CHARS {
        Err(format!("Use at most {PASSWORD_MAX_CHARS} characters."))
    } else {
        Ok(())
    }
}

/// The PHC string of a new salted hash.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether the password matches the stored hash (false for a malformed hash).
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|hash| argon2().verify_password(password.as_bytes(), &hash).is_ok())
}

/// A hash of nothing anyone knows: verifying against it takes as long as a real check, so an unknown
/// email is answered as slowly as a wrong password.
pub fn verify_against_dummy(password: &str) {
    static DUMMY: LazyLock<String> =
        LazyLock::new(|| hash(&hex::encode(rand::random::<[u8; 16]>())).unwrap_or_default());
    let _ = verify(password, &DUMMY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_use_argon2id_with_the_required_cost() {
        let stored = hash("correct horse battery").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
        assert!(!verify("anything", "not a hash"));
        assert_ne!(stored, hash("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn length_rules_count_characters() {
        assert!(validate("123456789").is_err());
        assert!(validate("1234567890").is_ok());
        assert!(validate(&"ü".repeat(10)).is_ok());
        assert!(validate(&"x".repeat(1024)).is_ok());
        assert!(validate(&"x".repeat(1025)).is_err());
    }
}
