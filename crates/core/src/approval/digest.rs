//! The digest that binds a checkpoint to one exact call: what is confirmed or approved is
//! this method, tool, path, query and body, and nothing that merely concatenates to the
//! same bytes. Also how a [`ParkedCall`] gets its digest.

use std::fmt::Write as _;

use sha2::{Digest as _, Sha256};

use super::ParkedCall;
use crate::model::{Intent, ToolName, name_type};

/// Separates these digests from any other SHA-256 Gatehouse computes, and versions them.
const DOMAIN: &[u8] = b"gatehouse call digest v1";

name_type!(
    /// The digest that binds a checkpoint to one exact call, from [`call_digest`]: its own
    /// type, so that it is compared with digests only, never with an id or a body. One
    /// read back from the store is taken as stored: it is only ever compared.
    CallDigest
);

/// SHA-256 (lowercase hex) over a length-prefixed encoding of the method (uppercased, as
/// HTTP methods are case-insensitive in practice), tool, path, query and body. Every
/// field carries its length, and the query a presence tag, so no two different calls
/// collide by concatenation and an absent query differs from an empty one.
pub fn call_digest(
    method: &str,
    tool: &str,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> CallDigest {
    let mut hasher = Sha256::new();
    field(&mut hasher, DOMAIN);
    field(&mut hasher, method.to_ascii_uppercase().as_bytes());
    field(&mut hasher, tool.as_bytes());
    field(&mut hasher, path.as_bytes());
    match query {
        None => hasher.update([0u8]),
        Some(query) => {
            hasher.update([1u8]);
            field(&mut hasher, query.as_bytes());
        }
    }
    field(&mut hasher, body);
    CallDigest::from(hex(&hasher.finalize()))
}

/// A call as received, to be parked: every field named, so none can be swapped by
/// position, and no digest, which [`ParkedCall::new`] computes from these fields alone.
#[derive(Debug, Clone)]
pub struct CallToPark {
    pub method: String,
    pub tool: ToolName,
    pub intent: Intent,
    /// The path below the tool, exactly as received.
    pub path: String,
    pub query: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl ParkedCall {
    /// Parks a call as received, with its [`call_digest`].
    pub fn new(call: CallToPark) -> Self {
        let CallToPark {
            method,
            tool,
            intent,
            path,
            query,
            content_type,
            body,
        } = call;
        let digest = call_digest(&method, &tool, &path, query.as_deref(), &body);
        Self {
            method,
            tool,
            intent,
            path,
            query,
            content_type,
            body,
            digest,
        }
    }

    /// The digest of the fields as they are now; equals `digest` unless the stored call
    /// was tampered with (or, for a confirmation, its body was not kept).
    pub fn computed_digest(&self) -> CallDigest {
        call_digest(
            &self.method,
            &self.tool,
            &self.path,
            self.query.as_deref(),
            &self.body,
        )
    }
}

fn field(hasher: &mut Sha256, bytes: &[u8]) {
    // A usize length always fits in a u64 on the platforms Rust supports.
    let length = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    hasher.update(length.to_be_bytes());
    hasher.update(bytes);
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            // Writing to a String cannot fail.
            let _ = write!(out, "{byte:02x}");
            out
        })
}
