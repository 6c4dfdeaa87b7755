//! Issuing EdDSA tokens: task credentials, and assertions in tests and the CLI.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::token::{Alg, MAX_TOKEN_LEN};

/// Why a token could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("claims do not serialize to json")]
    Serialize(#[source] serde_json::Error),
    #[error("claims must serialize to a json object")]
    NotAnObject,
    #[error("signed token is {len} bytes, longer than the {MAX_TOKEN_LEN}-byte limit")]
    TooLong { len: usize },
}

/// Signs `claims` as a compact EdDSA JWS with header `{"alg":"EdDSA","typ":…,"kid":…}`.
/// Fails only when the claims are not a JSON object or the token would be too long to
/// be accepted by [`crate::token::decode`].
pub fn sign_eddsa(
    typ: &str,
    kid: Option<&str>,
    claims: &impl Serialize,
    key: &SigningKey,
) -> Result<String, SignError> {
    let claims = serde_json::to_value(claims).map_err(SignError::Serialize)?;
    if !claims.is_object() {
        return Err(SignError::NotAnObject);
    }
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header(typ, kid).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.sign(signing_input.as_bytes());
    let token = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    );
    if token.len() > MAX_TOKEN_LEN {
        return Err(SignError::TooLong { len: token.len() });
    }
    Ok(token)
}

fn header(typ: &str, kid: Option<&str>) -> Value {
    let mut header = Map::new();
    header.insert("alg".to_owned(), Value::from(Alg::EdDSA.name()));
    header.insert("typ".to_owned(), Value::from(typ));
    if let Some(kid) = kid {
        header.insert("kid".to_owned(), Value::from(kid));
    }
    Value::Object(header)
}
