//! Ed25519 key files: PKCS#8 PEM for signing keys, SPKI PEM for public keys, plus the
//! short key id and the public JWK that name a key to others.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _,
    KeypairBytes,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::token::Alg;

/// Why a key could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a pkcs#8 pem ed25519 private key")]
    Private(#[source] ed25519_dalek::pkcs8::Error),
    #[error("not an spki pem ed25519 public key")]
    Public(#[source] ed25519_dalek::pkcs8::spki::Error),
    #[error("weak ed25519 public key (small order)")]
    Weak,
}

/// A freshly generated key pair in PEM. `Debug` never prints the private half.
pub struct KeyPairPem {
    /// PKCS#8 PEM, wiped from memory on drop.
    pub private_pem: Zeroizing<String>,
    /// SPKI PEM.
    pub public_pem: String,
    /// The [`key_id`] of the public key.
    pub kid: String,
}

impl fmt::Debug for KeyPairPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPairPem")
            .field("private_pem", &"<redacted>")
            .field("public_pem", &self.public_pem)
            .field("kid", &self.kid)
            .finish()
    }
}

/// A new signing key from the operating system's randomness.
pub fn generate() -> SigningKey {
    SigningKey::generate(&mut OsRng)
}

/// A new key pair, as PEM texts ready to write to files.
pub fn generate_pem() -> Result<KeyPairPem, KeyError> {
    let key = generate();
    Ok(KeyPairPem {
        private_pem: signing_key_pem(&key)?,
        public_pem: verifying_key_pem(&key.verifying_key())?,
        kid: key_id(&key.verifying_key()),
    })
}

/// PKCS#8 v1 (RFC 8410: the seed alone, no public key), the form OpenSSL 3, Node's
/// `crypto` and Python `cryptography` read; v2 with the public key is refused by all
/// three. [`load_signing_key_pem`] reads both.
pub fn signing_key_pem(key: &SigningKey) -> Result<Zeroizing<String>, KeyError> {
    let bytes = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    bytes
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(KeyError::Private)
}

pub fn verifying_key_pem(key: &VerifyingKey) -> Result<String, KeyError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(KeyError::Public)
}

pub fn load_signing_key_pem(pem: &str) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(pem).map_err(KeyError::Private)
}

/// Loads a public key, refusing small-order keys that would verify forged signatures
/// under lax verification.
pub fn load_verifying_key_pem(pem: &str) -> Result<VerifyingKey, KeyError> {
    let key = VerifyingKey::from_public_key_pem(pem).map_err(KeyError::Public)?;
    if key.is_weak() {
        return Err(KeyError::Weak);
    }
    Ok(key)
}

/// A short stable id: base64url of the first 8 bytes of SHA-256 of the public key
/// (11 characters).
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.get(..8).unwrap_or_default())
}

/// The public key as an OKP JWK (RFC 8037) with its [`key_id`].
pub fn public_jwk(key: &VerifyingKey) -> Value {
    json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(key.as_bytes()),
        "kid": key_id(key),
        "alg": Alg::EdDSA.name(),
        "use": "sig",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{Jwks, VerifyKey};

    #[test]
    fn generated_pems_load_back_to_the_same_key() {
        let pair = generate_pem().unwrap();
        let signing = load_signing_key_pem(&pair.private_pem).unwrap();
        let verifying = load_verifying_key_pem(&pair.public_pem).unwrap();
        assert_eq!(signing.verifying_key(), verifying);
        assert_eq!(pair.kid, key_id(&verifying));
        assert!(pair.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(pair.public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    }

    /// RFC 8410 section 10.3's example key, v1 (seed only).
    const RFC8410_V1: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
        -----END PRIVATE KEY-----\n";

    #[test]
    fn written_keys_are_pkcs8_v1_as_in_rfc_8410() {
        let seed = load_signing_key_pem(RFC8410_V1).unwrap();
        let pem = signing_key_pem(&seed).unwrap();
        assert_eq!(pem.as_str(), RFC8410_V1);
    }

    #[test]
    fn pkcs8_v2_keys_with_the_public_key_still_load() {
        let key = generate();
        let v2 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_ne!(v2.as_str(), signing_key_pem(&key).unwrap().as_str());
        assert_eq!(load_signing_key_pem(&v2).unwrap(), key);
    }

    #[test]
    fn debug_never_prints_the_private_key() {
        let pair = generate_pem().unwrap();
        let debug = format!("{pair:?}");
        assert!(!debug.contains("PRIVATE"), "{debug}");
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn key_ids_are_short_and_stable() {
        let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
        assert_eq!(key_id(&key).len(), 11);
        assert_eq!(key_id(&key), key_id(&key));
        assert_ne!(key_id(&key), key_id(&generate().verifying_key()));
    }

    #[test]
    fn garbage_pem_is_refused() {
        assert!(load_signing_key_pem("not a key").is_err());
        assert!(load_verifying_key_pem("not a key").is_err());
        let pair = generate_pem().unwrap();
        assert!(load_verifying_key_pem(&pair.private_pem).is_err());
        assert!(load_signing_key_pem(&pair.public_pem).is_err());
    }

    #[test]
    fn the_public_jwk_parses_as_a_key_set() {
        let key = generate().verifying_key();
        let set = json!({ "keys": [public_jwk(&key)] }).to_string();
        let jwks = Jwks::parse(&set).unwrap();
        let found = jwks.find(Some(&key_id(&key)), Alg::EdDSA);
        assert!(matches!(found, Some(VerifyKey::Ed25519(k)) if *k == key));
    }
}
