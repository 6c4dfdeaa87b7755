//! JSON Web Key Sets (RFC 7517) of trusted issuers, reduced to the verification keys
//! Gatehouse can use: Ed25519, P-256 and RSA of at least 2048 bits.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::BigUint;
use rsa::traits::PublicKeyParts as _;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::token::{Alg, VerifyKey};

/// The smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;

/// A set of verification keys, each with an optional key id.
#[derive(Debug, Clone)]
pub struct Jwks {
    // INVARIANT: not empty, and no two keys share a `kid`.
    keys: Vec<Entry>,
}

/// Why a key set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("not a json web key set: {0}")]
    Json(String),
    #[error(
        "key #{index}{}: {problem}",
        .kid.as_deref().map(|kid| format!(" (`{kid}`)")).unwrap_or_default()
    )]
    Key {
        index: usize,
        kid: Option<String>,
        problem: KeyProblem,
    },
    #[error("two keys share the key id `{0}`")]
    DuplicateKid(String),
    #[error("no usable signing key (Ed25519, P-256, or RSA of at least 2048 bits)")]
    NoUsableKey,
}

/// What is wrong with one key of a set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    #[error("member `{0}` is missing")]
    Missing(&'static str),
    #[error("member `{0}` is not unpadded base64url")]
    Encoding(&'static str),
    #[error("member `{0}` has the wrong length")]
    Length(&'static str),
    #[error("not a valid {0} public key")]
    Invalid(&'static str),
    #[error("rsa modulus of {bits} bits is shorter than {MIN_RSA_BITS}")]
    WeakRsa { bits: usize },
    #[error("contains private key material (`d`)")]
    PrivateKey,
}

impl Jwks {
    /// Parses a key set. Keys for encryption (`"use":"enc"`), of unknown `kty` or curve,
    /// or marked for another `alg` or without `verify` in `key_ops` are skipped; a key of
    /// a known type with bad parameters fails the whole set, so a typo cannot silently
    /// drop a key.
    pub fn parse(json: &str) -> Result<Jwks, JwksError> {
        let set: RawSet = serde_json::from_str(json).map_err(|e| JwksError::Json(e.to_string()))?;
        let mut keys = Vec::new();
        for (index, raw) in set.keys.into_iter().enumerate() {
            let kid = raw.kid.clone();
            let key = raw.into_key().map_err(|problem| JwksError::Key {
                index,
                kid: kid.clone(),
                problem,
            })?;
            keys.extend(key.map(|key| Entry { kid, key }));
        }
        Self::from_entries(keys)
    }

    /// A set of keys at hand, e.g. an agent's registered public key.
    pub fn from_keys(keys: Vec<(Option<String>, VerifyKey)>) -> Result<Jwks, JwksError> {
        Self::from_entries(
            keys.into_iter()
                .map(|(kid, key)| Entry { kid, key })
                .collect(),
        )
    }

    /// The key for a token: with a `kid`, the key of that id if it fits `alg`; without,
    /// the one and only key that fits `alg`.
    pub fn find(&self, kid: Option<&str>, alg: Alg) -> Option<&VerifyKey> {
        let Some(kid) = kid else {
            let mut fitting = self.keys.iter().filter(|entry| entry.key.alg() == alg);
            return match (fitting.next(), fitting.next()) {
                (Some(only), None) => Some(&only.key),
                _ => None,
            };
        };
        self.keys
            .iter()
            .find(|entry| entry.kid.as_deref() == Some(kid))
            .map(|entry| &entry.key)
            .filter(|key| key.alg() == alg)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn from_entries(keys: Vec<Entry>) -> Result<Jwks, JwksError> {
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        let mut seen = HashSet::new();
        for kid in keys.iter().filter_map(|entry| entry.kid.as_deref()) {
            if !seen.insert(kid) {
                return Err(JwksError::DuplicateKid(kid.to_owned()));
            }
        }
        Ok(Jwks { keys })
    }
}

#[derive(Debug, Clone)]
struct Entry {
    kid: Option<String>,
    key: VerifyKey,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    #[serde(rename = "use")]
    usage: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    kid: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<IgnoredAny>,
}

impl RawKey {
    /// The verification key, `None` when the key is not for us to use.
    fn into_key(self) -> Result<Option<VerifyKey>, KeyProblem> {
        if self.d.is_some() {
            return Err(KeyProblem::PrivateKey);
        }
        if !self.is_for_verifying() {
            return Ok(None);
        }
        let key = match self.kty.as_str() {
            "OKP" => self.okp()?,
            "EC" => self.ec()?,
            "RSA" => Some(self.rsa()?),
            _ => None,
        };
        // A key marked for another algorithm (say PS256 on an RSA key) is not ours.
        Ok(key.filter(|key| {
            self.alg
                .as_deref()
                .is_none_or(|alg| alg == key.alg().name())
        }))
    }

    fn is_for_verifying(&self) -> bool {
        let usage = self.usage.as_deref().is_none_or(|usage| usage == "sig");
        let ops = self
            .key_ops
            .as_ref()
            .is_none_or(|ops| ops.iter().any(|op| op == "verify"));
        usage && ops
    }

    fn okp(&self) -> Result<Option<VerifyKey>, KeyProblem> {
        if required(self.crv.as_deref(), "crv")? != "Ed25519" {
            return Ok(None);
        }
        let x: [u8; 32] = fixed(self.x.as_deref(), "x")?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
            .map_err(|_| KeyProblem::Invalid("Ed25519"))?;
        if key.is_weak() {
            return Err(KeyProblem::Invalid("Ed25519"));
        }
        Ok(Some(VerifyKey::Ed25519(key)))
    }

    fn ec(&self) -> Result<Option<VerifyKey>, KeyProblem> {
        if required(self.crv.as_deref(), "crv")? != "P-256" {
            return Ok(None);
        }
        let x: [u8; 32] = fixed(self.x.as_deref(), "x")?;
        let y: [u8; 32] = fixed(self.y.as_deref(), "y")?;
        let point = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
        let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point)
            .map_err(|_| KeyProblem::Invalid("P-256"))?;
        Ok(Some(VerifyKey::P256(key)))
    }

    fn rsa(&self) -> Result<VerifyKey, KeyProblem> {
        let n = BigUint::from_bytes_be(&bytes(self.n.as_deref(), "n")?);
        let e = BigUint::from_bytes_be(&bytes(self.e.as_deref(), "e")?);
        let key = rsa::RsaPublicKey::new(n, e).map_err(|_| KeyProblem::Invalid("RSA"))?;
        let bits = key.n().bits();
        if bits < MIN_RSA_BITS {
            return Err(KeyProblem::WeakRsa { bits });
        }
        Ok(VerifyKey::Rsa(key))
    }
}

fn required<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, KeyProblem> {
    value.ok_or(KeyProblem::Missing(name))
}

fn bytes(value: Option<&str>, name: &'static str) -> Result<Vec<u8>, KeyProblem> {
    URL_SAFE_NO_PAD
        .decode(required(value, name)?)
        .map_err(|_| KeyProblem::Encoding(name))
}

/// A member of exactly `N` bytes (RFC 7518 §6.2.1.2: coordinates are full length).
fn fixed<const N: usize>(value: Option<&str>, name: &'static str) -> Result<[u8; N], KeyProblem> {
    bytes(value, name)?
        .try_into()
        .map_err(|_| KeyProblem::Length(name))
}

#[cfg(test)]
mod tests;
