//! The result a server answered, in the shape the agent's protocol era expects, as the
//! JSON-RPC response's text: the stateless era's results say they are complete, and
//! cacheable ones how to cache them; a result passed on as the server wrote it is
//! shaped on its text where it can be.

use gatehouse_core::refusal::Refusal;
use serde_json::Value;

use super::Asked;
use crate::mcp::call::{Raw, Reply};
use crate::mcp::era::Era;
use crate::mcp::jsonrpc::{self, Id};
use crate::pipeline::record::EventDraft;

/// The JSON-RPC response carrying what the server answered, as JSON text.
pub(super) fn reply_message(
    asked: Asked<'_>,
    answer: Reply,
    draft: &mut EventDraft,
) -> Result<String, Refusal> {
    let id = asked.id.cloned().unwrap_or(Id::Number(0));
    Ok(match answer {
        Reply::Result(result) => {
            jsonrpc::result(&id, modern_result(result, asked.era, asked.method)).to_string()
        }
        Reply::Raw(raw) => {
            let result = modern_raw(raw, asked.era, asked.method)?;
            jsonrpc::result_text(&id, &result)
        }
        Reply::Error(error) => {
            // The server's own error, relayed: the call was allowed and ran.
            draft.note(&format!("the server answered with error {}", error.code));
            jsonrpc::error(Some(&id), &error).to_string()
        }
    })
}

/// The stateless era's results say they are complete, and cacheable ones how to cache
/// them: privately (a listing is filtered for this caller) and never for long (policy
/// may change).
pub(super) fn modern_result(result: Value, era: Era, method: &str) -> Value {
    let mut object = match (era, result) {
        (Era::Modern, Value::Object(object)) => object,
        (_, other) => return other,
    };
    object
        .entry("resultType")
        .or_insert_with(|| Value::from("complete"));
    if cacheable(method) {
        object.insert("cacheScope".to_owned(), Value::from("private"));
        object.insert("ttlMs".to_owned(), Value::from(0));
    }
    Value::Object(object)
}

fn cacheable(method: &str) -> bool {
    matches!(
        method,
        "server/discover"
            | "tools/list"
            | "resources/list"
            | "resources/templates/list"
            | "prompts/list"
            | "resources/read"
    )
}

/// [`modern_result`] for a result passed on as the server wrote it: `resultType` is
/// added to the text, as the last member, where the tree would have put it. A result
/// whose members were not read, or that needs its cache members set, is parsed.
fn modern_raw(raw: Raw, era: Era, method: &str) -> Result<String, Refusal> {
    let as_written = era == Era::Handshake || (raw.result_type == Some(true) && !cacheable(method));
    if as_written {
        return Ok(Box::<str>::from(raw.text).into_string());
    }
    let text = raw.text.get();
    match (raw.result_type, text.strip_suffix('}')) {
        (Some(false), Some(open)) if !cacheable(method) => {
            let comma = if open.trim_end() == "{" { "" } else { "," };
            Ok([open, comma, r#""resultType":"complete"}"#].concat())
        }
        _ => Ok(modern_result(raw.tree()?, era, method).to_string()),
    }
}
