//! Phase 4's first step for routes that declare `args`: the call's arguments, gathered
//! from its path, query and (when declared) JSON body and typed exactly as MCP arguments
//! are, for policy to read as `context.args`. A call whose arguments do not fit is
//! refused `bad-arguments` before policy. Routes without `args` never come here.

use std::collections::BTreeMap;

use gatehouse_core::model::AttrValue;
use gatehouse_core::path::parse_request_path;
use gatehouse_core::refusal::Refusal;
use gatehouse_core::route_args::{self, Request};
use http::{HeaderMap, header};
use hyper::body::Incoming;

use crate::dataplane::classify::Call;
use crate::dataplane::tier::{CallBody, read_body};
use crate::state::State;

/// The typed arguments, and the body to go on with: read once, bounded by
/// `max_request_body`, when the route reads body arguments (so the bytes decided on are
/// the bytes forwarded), else still streaming.
pub async fn gather(
    state: &State,
    call: &Call<'_>,
    headers: &HeaderMap,
    body: Incoming,
) -> Result<(BTreeMap<String, AttrValue>, CallBody), Refusal> {
    if !call.route.reads_body() {
        return Ok((typed(call, None)?, CallBody::Streaming(body)));
    }
    let bytes = read_body(state, body).await?;
    if !bytes.iter().all(u8::is_ascii_whitespace) && !is_json(headers) {
        return Err(Refusal::BadArguments {
            reason: "a body carrying arguments must be `application/json`".to_owned(),
        });
    }
    let args = typed(call, Some(&bytes))?;
    Ok((args, CallBody::Read(bytes)))
}

fn typed(call: &Call<'_>, body: Option<&[u8]>) -> Result<BTreeMap<String, AttrValue>, Refusal> {
    // Classify proved the path unambiguous; parsing the tool's part again is cheaper
    // than carrying its segments on every call.
    let path =
        parse_request_path(call.tool_path.as_bytes()).map_err(|error| Refusal::AmbiguousPath {
            reason: error.to_string(),
        })?;
    let request = Request {
        path: &path,
        query: call.query,
        body,
    };
    route_args::typed(call.route, request).map_err(|reason| Refusal::BadArguments { reason })
}

/// `application/json` or a `+json` type, as the tool's JSON parser would take it.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .is_some_and(|essence| essence == "application/json" || essence.ends_with("+json"))
}
