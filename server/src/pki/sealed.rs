//! Device private keys made by the server are kept so the owner can download the bundle again; at rest
//! they are sealed with AES-256-GCM under a secret that is not in the database, bound to the device
//! and certificate they belong to (associated data), so a sealed key moved to another row of the
//! database does not open there.

use std::path::Path;

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, AeadCore, OsRng, Payload},
};
use base64::{Engine, engine::general_purpose::STANDARD};

use super::PkiError;
use crate::startup::write_private_file;

/// Seals and opens secrets with one AES-256-GCM key.
pub struct KeySealer {
    cipher: Aes256Gcm,
}

/// Sealed and bound to what it belongs to.
const PREFIX: &str = "aes256gcm-bound:";
/// Sealed by earlier versions, without binding; still opened.
const UNBOUND_PREFIX: &str = "aes256gcm:";

impl KeySealer {
    /// The configured secret (hex, 32 bytes), or the one in `file`, made on first use.
    pub fn load_or_create(configured: Option<&str>, file: &Path) -> Result<Self, PkiError> {
        let secret = match configured {
            Some(secret) => secret.trim().to_string(),
            None => match std::fs::read_to_string(file) {
                Ok(secret) => secret.trim().to_string(),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    let secret = hex::encode(rand::random::<[u8; 32]>());
                    write_private_file(file, secret.as_bytes()).map_err(|source| {
                        PkiError::File {
                            path: file.to_path_buf(),
                            source,
                        }
                    })?;
                    secret
                }
                Err(source) => {
                    return Err(PkiError::File {
                        path: file.to_path_buf(),
                        source,
                    });
                }
            },
        };
        let bytes =
            hex::decode(&secret).map_err(|_| PkiError::Secret("not hexadecimal".to_string()))?;
        let cipher = Aes256Gcm::new_from_slice(&bytes)
            .map_err(|_| PkiError::Secret("must be 32 bytes (64 hex digits)".to_string()))?;
        Ok(Self { cipher })
    }

    /// The sealed form of a secret that belongs to `owner` (e.g. a device and its certificate's
    /// serial); it opens only for the same owner.
    pub fn seal(&self, plain: &str, owner: &str) -> Result<String, PkiError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: owner.as_bytes(),
        };
        let sealed = self
            .cipher
            .encrypt(&nonce, payload)
            .map_err(|error| PkiError::Secret(error.to_string()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(bytes)))
    }

    /// The secret a sealed form holds; an error when it was sealed under another key, for another
    /// owner, or altered.
    pub fn open(&self, sealed: &str, owner: &str) -> Result<String, PkiError> {
        let unusable = || {
            PkiError::Secret(
                "a sealed key cannot be opened with this secret for this certificate".to_string(),
            )
        };
        let (encoded, aad) = match sealed.strip_prefix(PREFIX) {
            Some(encoded) => (encoded, owner.as_bytes()),
            None => (
                sealed.strip_prefix(UNBOUND_PREFIX).ok_or_else(unusable)?,
                &[][..],
            ),
        };
        let bytes = STANDARD.decode(encoded).map_err(|_| unusable())?;
        if bytes.len() < 12 {
            return Err(unusable());
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let payload = Payload {
            msg: ciphertext,
            aad,
        };
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| unusable())?;
        String::from_utf8(plain).map_err(|_| unusable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_their_secret() -> Result<(), PkiError> {
        let dir = tempfile::tempdir().map_err(|source| PkiError::File {
            path: "tmp".into(),
            source,
        })?;
        let sealer = KeySealer::load_or_create(None, &dir.path().join("secret"))?;
        let sealed = sealer.seal("-----BEGIN PRIVATE KEY-----", "d1/1a2b")?;
        assert!(!sealed.contains("PRIVATE"));
        assert_eq!(
            sealer.open(&sealed, "d1/1a2b")?,
            "-----BEGIN PRIVATE KEY-----"
        );
        assert!(
            sealer.open(&sealed, "d2/1a2b").is_err(),
            "not for another device"
        );
        assert!(
            sealer.open(&sealed, "d1/ffff").is_err(),
            "not for another certificate"
        );
        let again = KeySealer::load_or_create(None, &dir.path().join("secret"))?;
        assert_eq!(
            again.open(&sealed, "d1/1a2b")?,
            "-----BEGIN PRIVATE KEY-----",
            "the secret file is reused"
        );
        let other = KeySealer::load_or_create(Some(&"ab".repeat(32)), &dir.path().join("unused"))?;
        assert!(other.open(&sealed, "d1/1a2b").is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push('A');
        assert!(sealer.open(&tampered, "d1/1a2b").is_err());

        // Keys sealed by earlier versions (no binding) still open.
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut bytes = nonce.to_vec();
        bytes.extend(sealer.cipher.encrypt(&nonce, b"old".as_slice()).unwrap());
        let unbound = format!("{UNBOUND_PREFIX}{}", STANDARD.encode(bytes));
        assert_eq!(sealer.open(&unbound, "any/owner")?, "old");
        assert!(KeySealer::load_or_create(Some("zz"), &dir.path().join("x")).is_err());
        Ok(())
    }
}
