//! Compact JWS tokens (RFC 7515, RFC 7519), parsed strictly because they cross a trust
//! boundary: identity assertions arrive from agents, task credentials come back on
//! every call.
//!
//! Only EdDSA, ES256 and RS256 are ever accepted, signatures are raw (never DER), the
//! algorithm is fixed by the key the caller chose and never by the token alone, keys
//! embedded in a header (`jwk`, `jku`, `x5c`, …) are ignored, and `crit` is refused.
//! Every failure is an [`AuthFailure`] so the gateway maps it straight to a refusal.

mod claims;
mod ed25519;
mod jwks;
pub mod keys;
mod sign;

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use p256::ecdsa::signature::Verifier as _;
use rsa::Pkcs1v15Sign;
use rsa::traits::PublicKeyParts as _;
use serde::de::{DeserializeOwned, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::refusal::AuthFailure;

pub use claims::{AssertionClaims, Audience, TASK_TOKEN_TYP, TaskClaims, TimeClaims, check_times};
pub use jwks::{Jwks, JwksError, KeyProblem};
pub use sign::{SignError, sign_eddsa};

/// The longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// A signing algorithm Gatehouse accepts. Nothing else ever verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    EdDSA,
    Es256,
    Rs256,
}

impl Alg {
    /// The JOSE name (`alg` header value).
    pub fn name(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    /// The algorithm with this exact (case-sensitive) JOSE name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Self::EdDSA),
            "ES256" => Some(Self::Es256),
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }

    /// Whether a signature of `len` bytes can belong to this algorithm: 64 bytes for
    /// EdDSA and for ES256 (raw `r || s`, RFC 7518 §3.4), the modulus size for RS256
    /// (2048 to 4096 bits; the exact size is checked against the key).
    fn fits_signature_len(self, len: usize) -> bool {
        match self {
            Self::EdDSA | Self::Es256 => len == 64,
            Self::Rs256 => (256..=512).contains(&len),
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The JOSE header parameters Gatehouse reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: Alg,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

/// A public key that verifies tokens of exactly one algorithm.
#[derive(Debug, Clone)]
pub enum VerifyKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
}

impl VerifyKey {
    /// The one algorithm this key verifies.
    pub fn alg(&self) -> Alg {
        match self {
            Self::Ed25519(_) => Alg::EdDSA,
            Self::P256(_) => Alg::Es256,
            Self::Rsa(_) => Alg::Rs256,
        }
    }
}

/// A structurally valid token whose signature has not been checked yet.
#[derive(Debug, Clone)]
pub struct UnverifiedJwt {
    header: Header,
    /// `BASE64URL(header) || '.' || BASE64URL(claims)`, exactly as received.
    signing_input: String,
    claims: Vec<u8>,
    signature: Vec<u8>,
}

/// Splits and decodes a compact JWS, checking everything that can be checked without a
/// key: size, shape, encoding, header, algorithm, signature length, claims object.
pub fn decode(token: &str) -> Result<UnverifiedJwt, AuthFailure> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthFailure::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthFailure::Malformed);
    };
    let header = parse_header(&base64url(header_b64)?)?;
    let claims = base64url(claims_b64)?;
    unique_object(&claims)?;
    let signature = base64url(signature_b64)?;
    if !header.alg.fits_signature_len(signature.len()) {
        return Err(AuthFailure::Malformed);
    }
    Ok(UnverifiedJwt {
        header,
        signing_input: format!("{header_b64}.{claims_b64}"),
        claims,
        signature,
    })
}

impl UnverifiedJwt {
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The claims parsed into `T`, before verification: to read `iss`, `sub` or the
    /// agent id that picks the key. Never act on them before [`Self::verify`] passes.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, AuthFailure> {
        serde_json::from_slice(&self.claims).map_err(|_| AuthFailure::Malformed)
    }

    /// The claims of an identity assertion, before verification, naming the claim that
    /// is missing or of the wrong type.
    pub fn assertion_claims(&self) -> Result<AssertionClaims, AuthFailure> {
        AssertionClaims::parse(&self.claims)
    }

    /// Checks the signature with `key`. A key of another type than the header's
    /// algorithm is refused as [`AuthFailure::DisallowedAlgorithm`]: the key decides the
    /// algorithm, the token may only agree.
    pub fn verify(&self, key: &VerifyKey) -> Result<(), AuthFailure> {
        let message = self.signing_input.as_bytes();
        match (self.header.alg, key) {
            (Alg::EdDSA, VerifyKey::Ed25519(key)) => verify_eddsa(key, message, &self.signature),
            (Alg::Es256, VerifyKey::P256(key)) => verify_es256(key, message, &self.signature),
            (Alg::Rs256, VerifyKey::Rsa(key)) => verify_rs256(key, message, &self.signature),
            (Alg::EdDSA | Alg::Es256 | Alg::Rs256, _) => Err(AuthFailure::DisallowedAlgorithm),
        }
    }

    /// Checks an EdDSA signature that Gatehouse may have made itself, with the signing key
    /// it holds: the same verdict as [`Self::verify`] with that key's public half, about
    /// twice as fast for Gatehouse's own signatures.
    ///
    /// Ed25519 signing is deterministic (RFC 8032 §5.1.6), so a signature Gatehouse made
    /// over this signing input is exactly what signing it again gives. Signing costs one
    /// fixed-base multiplication where verifying costs a double-base one, so the
    /// signature is first compared, in constant time, with that recomputation; any other
    /// signature — a forgery, or a valid one some other signer made with a different
    /// nonce — then goes through the full strict verification, so the set of accepted
    /// signatures is the same. No recomputed signature ever leaves this function.
    pub fn verify_own(&self, key: &ed25519_dalek::SigningKey) -> Result<(), AuthFailure> {
        if self.header.alg != Alg::EdDSA {
            return Err(AuthFailure::DisallowedAlgorithm);
        }
        let ours = key.sign(self.signing_input.as_bytes()).to_bytes();
        if bool::from(ours.as_slice().ct_eq(&self.signature)) {
            return Ok(());
        }
        verify_eddsa(
            &key.verifying_key(),
            self.signing_input.as_bytes(),
            &self.signature,
        )
    }
}

/// Strict base64url: no padding, no whitespace, no non-canonical trailing bits.
fn base64url(part: &str) -> Result<Vec<u8>, AuthFailure> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthFailure::Malformed)
}

/// The header members Gatehouse reads; the others are ignored, except those that would
/// change how the token must be processed.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    /// Extensions we do not implement; RFC 7515 §4.1.11 says refuse.
    #[serde(default)]
    crit: Presence,
    /// Unencoded payload (RFC 7797), which must come with `crit`; refused alone too.
    #[serde(default)]
    b64: Presence,
}

fn parse_header(bytes: &[u8]) -> Result<Header, AuthFailure> {
    unique_object(bytes)?;
    let raw: RawHeader = serde_json::from_slice(bytes).map_err(|_| AuthFailure::Malformed)?;
    let alg = Alg::from_name(&raw.alg).ok_or(AuthFailure::DisallowedAlgorithm)?;
    if raw.crit.0 || raw.b64.0 {
        return Err(AuthFailure::Malformed);
    }
    Ok(Header {
        alg,
        kid: raw.kid,
        typ: raw.typ,
    })
}

fn verify_eddsa(
    key: &ed25519_dalek::VerifyingKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), AuthFailure> {
    let bytes: [u8; 64] = signature
        .try_into()
        .map_err(|_| AuthFailure::BadSignature)?;
    // Strict: refuses small-order keys and non-canonical signatures.
    if ed25519::verify_strict(key, message, &bytes) {
        Ok(())
    } else {
        Err(AuthFailure::BadSignature)
    }
}

fn verify_es256(
    key: &p256::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), AuthFailure> {
    let signature =
        p256::ecdsa::Signature::from_slice(signature).map_err(|_| AuthFailure::BadSignature)?;
    key.verify(message, &signature)
        .map_err(|_| AuthFailure::BadSignature)
}

fn verify_rs256(
    key: &rsa::RsaPublicKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), AuthFailure> {
    if signature.len() != key.size() {
        return Err(AuthFailure::BadSignature);
    }
    let digest = Sha256::digest(message);
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, signature)
        .map_err(|_| AuthFailure::BadSignature)
}

/// Checks that `bytes` is one JSON object whose top-level member names are unique.
/// RFC 7515 §4 requires refusing duplicate header parameters; the same rule for claims
/// stops two parsers from reading different values out of one token.
fn unique_object(bytes: &[u8]) -> Result<(), AuthFailure> {
    serde_json::from_slice::<UniqueObject>(bytes)
        .map(|_| ())
        .map_err(|_| AuthFailure::Malformed)
}

struct UniqueObject;

impl<'de> Deserialize<'de> for UniqueObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueObjectVisitor)
    }
}

struct UniqueObjectVisitor;

impl<'de> Visitor<'de> for UniqueObjectVisitor {
    type Value = UniqueObject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json object with unique member names")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueObject, A::Error> {
        let mut seen = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            map.next_value::<IgnoredAny>()?;
            if !seen.insert(name) {
                return Err(A::Error::custom("duplicate member"));
            }
        }
        Ok(UniqueObject)
    }
}

/// Whether a member is present at all, whatever its value (even `null`).
#[derive(Default)]
struct Presence(bool);

impl<'de> Deserialize<'de> for Presence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Self(true))
    }
}

#[cfg(test)]
mod tests;
