//! Refusals in MCP's shapes. A refusal of a `tools/call` the agent could make sense of
//! (policy, budget, tiers, the tool failing) is a tool result with `isError`, so the
//! model reads it; anything about the message itself is a JSON-RPC error. Both carry the
//! refusal kind and the decision id in structured data, so an agent can explain what
//! happened. The mapping is exhaustive: a new refusal kind will not compile until it has
//! an MCP shape.

use gatehouse_core::ids::DecisionId;
use gatehouse_core::refusal::Refusal;
use serde_json::{Map, Value, json};

use crate::mcp::era::Era;
use crate::mcp::jsonrpc::{ErrorObject, code};

/// How a refusal reaches the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A `tools/call` result with `isError: true` (HTTP 200).
    ToolError(Value),
    /// A JSON-RPC error, with the HTTP status to send it with.
    Error(ErrorObject, u16),
}

/// What the agent may know about a refusal: kind, detail, decision id and the kind's
/// extension members (approval and confirmation ids, budgets).
pub fn refusal_data(refusal: &Refusal, decision: DecisionId) -> Value {
    let mut data = Map::new();
    data.insert("refusal".to_owned(), refusal.kind().as_str().into());
    data.insert("title".to_owned(), refusal.title().into());
    data.insert("detail".to_owned(), mcp_detail(refusal).into());
    data.insert("decision_id".to_owned(), decision.to_string().into());
    for (name, value) in refusal.extensions() {
        data.insert(name.to_owned(), value);
    }
    Value::Object(data)
}

/// The detail, in MCP's terms where HTTP's would mislead.
fn mcp_detail(refusal: &Refusal) -> String {
    match refusal {
        Refusal::ConfirmationRequired { id } => format!(
            "this call needs a confirmation: once `{id}` is confirmed, send the same call again with `_meta` `gatehouse/confirmation` = `{id}`"
        ),
        other => other.detail(),
    }
}

/// The answer for `refusal` of a request with `method`. `structured` says whether a tool
/// error may carry `structuredContent` (not when the tool declares an output schema it
/// would not match).
pub fn answer(
    method: &str,
    era: Era,
    refusal: &Refusal,
    decision: DecisionId,
    structured: bool,
) -> Answer {
    let data = refusal_data(refusal, decision);
    let tool_call = method == "tools/call";
    let error_with = |rpc: i64, message: String, status: u16| {
        Answer::Error(
            ErrorObject::new(rpc, message).with_data(data.clone()),
            status,
        )
    };
    let error = |rpc: i64, message: String| error_with(rpc, message, http_status(era, rpc));
    match refusal {
        Refusal::PolicyDenied
        | Refusal::Quarantined { .. }
        | Refusal::BudgetExhausted { .. }
        | Refusal::ConfirmationRequired { .. }
        | Refusal::ConfirmationRejected { .. }
        | Refusal::ApprovalPending { .. }
        | Refusal::ApprovalDenied { .. }
        | Refusal::ApprovalExpired { .. }
        | Refusal::ApprovalCancelled { .. }
        | Refusal::UpstreamUnavailable { .. }
        | Refusal::UpstreamTimeout
        | Refusal::ResponseClassExceeded { .. }
        | Refusal::ResponseUnscannable { .. }
            if tool_call =>
        {
            Answer::ToolError(tool_error(refusal, &data, structured))
        }
        Refusal::UpstreamUnavailable { .. }
        | Refusal::UpstreamTimeout
        | Refusal::ResponseUnscannable { .. } => error(code::UPSTREAM, refusal.title().to_owned()),
        Refusal::BadMessage { rpc_code, reason } => error(*rpc_code, reason.clone()),
        Refusal::UnknownMethod { method } => error(
            code::METHOD_NOT_FOUND,
            format!("Method not found: {method}"),
        ),
        Refusal::UnknownTool { tool } => {
            error(code::INVALID_PARAMS, format!("Unknown tool: {tool}"))
        }
        Refusal::BadArguments { reason } => error(code::INVALID_PARAMS, reason.clone()),
        Refusal::UnsafeRequest { reason } | Refusal::MalformedBody { reason } => {
            error_with(code::INVALID_REQUEST, reason.clone(), 400)
        }
        Refusal::SessionUnknown => error_with(code::REFUSED, "Session not found".to_owned(), 404),
        Refusal::BodyTooLarge { .. } => error_with(code::INVALID_REQUEST, refusal.detail(), 413),
        Refusal::HeadersTooLarge => error_with(code::INVALID_REQUEST, refusal.detail(), 431),
        Refusal::RateLimited => error_with(code::REFUSED, refusal.detail(), 429),
        Refusal::TooManyPending { .. } if tool_call => {
            Answer::ToolError(tool_error(refusal, &data, structured))
        }
        Refusal::TooManyPending { .. } => error_with(code::REFUSED, refusal.detail(), 429),
        Refusal::Internal { .. } => error(code::INTERNAL_ERROR, refusal.title().to_owned()),
        Refusal::StaleState { .. } | Refusal::Unrecordable { .. } => {
            error_with(code::INTERNAL_ERROR, refusal.detail(), 503)
        }
        Refusal::PolicyDenied
        | Refusal::Quarantined { .. }
        | Refusal::BudgetExhausted { .. }
        | Refusal::ConfirmationRequired { .. }
        | Refusal::ConfirmationRejected { .. }
        | Refusal::ApprovalPending { .. }
        | Refusal::ApprovalDenied { .. }
        | Refusal::ApprovalExpired { .. }
        | Refusal::ApprovalCancelled { .. }
        | Refusal::Unauthenticated(_)
        | Refusal::InvalidAssertion(_)
        | Refusal::BadTokenRequest { .. }
        | Refusal::TaskClassNotAllowed { .. }
        | Refusal::AmbiguousPath { .. }
        | Refusal::NoRoute
        | Refusal::SegmentMismatch { .. }
        | Refusal::OutOfScope { .. }
        | Refusal::OriginRejected { .. }
        | Refusal::ResponseClassExceeded { .. } => error(
            code::REFUSED,
            format!("{}: {}", refusal.title(), mcp_detail(refusal)),
        ),
    }
}

/// A tool result the model can read: the refusal in words, and in structure: in
/// `_meta` always, and in `structuredContent` where the tool's output schema allows.
fn tool_error(refusal: &Refusal, data: &Value, structured: bool) -> Value {
    let decision = data
        .get("decision_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let text = format!(
        "Gatehouse refused this call ({}): {}. Decision id {decision}.",
        refusal.kind(),
        mcp_detail(refusal)
    );
    let mut result = json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
        "_meta": {"gatehouse/refusal": data},
    });
    if structured && let Value::Object(object) = &mut result {
        object.insert("structuredContent".to_owned(), json!({ "gatehouse": data }));
    }
    result
}

/// HTTP statuses for JSON-RPC errors: the stateless era maps message errors to 4xx (as
/// its reference servers do); the handshake era keeps 200 except for malformed
/// messages, since its clients read a 404 as "session gone".
fn http_status(era: Era, rpc: i64) -> u16 {
    match (era, rpc) {
        (
            _,
            code::PARSE_ERROR
            | code::INVALID_REQUEST
            | code::HEADER_MISMATCH
            | code::UNSUPPORTED_PROTOCOL_VERSION,
        ) => 400,
        (Era::Modern, code::INVALID_PARAMS) => 400,
        (Era::Modern, code::METHOD_NOT_FOUND) => 404,
        _ => 200,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision() -> DecisionId {
        gatehouse_core::ids::IdGenerator::default()
            .next(gatehouse_core::clock::UnixTime::from_secs(1))
    }

    #[test]
    fn a_denied_tool_call_is_a_readable_tool_error() {
        let Answer::ToolError(result) = answer(
            "tools/call",
            Era::Handshake,
            &Refusal::PolicyDenied,
            decision(),
            true,
        ) else {
            panic!("expected a tool error");
        };
        assert_eq!(result["isError"], true);
        assert_eq!(
            result["structuredContent"]["gatehouse"]["refusal"],
            "policy-denied"
        );
        assert!(result["structuredContent"]["gatehouse"]["decision_id"].is_string());
        assert_eq!(
            result["_meta"]["gatehouse/refusal"]["refusal"],
            "policy-denied"
        );
        let Answer::ToolError(bare) = answer(
            "tools/call",
            Era::Handshake,
            &Refusal::PolicyDenied,
            decision(),
            false,
        ) else {
            panic!("expected a tool error");
        };
        assert!(bare.get("structuredContent").is_none());
        assert_eq!(
            bare["_meta"]["gatehouse/refusal"]["refusal"],
            "policy-denied"
        );
    }

    #[test]
    fn message_errors_are_json_rpc_errors_with_the_kind() {
        let refusal = Refusal::UnknownTool {
            tool: "rm".to_owned(),
        };
        let Answer::Error(error, status) =
            answer("tools/call", Era::Handshake, &refusal, decision(), true)
        else {
            panic!("expected an error");
        };
        assert_eq!(error.code, code::INVALID_PARAMS);
        assert_eq!(status, 200);
        assert_eq!(
            error.data.as_ref().map(|data| data["refusal"].clone()),
            Some("unknown-tool".into())
        );
        let Answer::Error(_, status) = answer(
            "x/y",
            Era::Modern,
            &Refusal::UnknownMethod {
                method: "x/y".into(),
            },
            decision(),
            true,
        ) else {
            panic!("expected an error");
        };
        assert_eq!(status, 404);
    }

    #[test]
    fn a_denied_resource_read_is_an_error_not_a_tool_result() {
        let answered = answer(
            "resources/read",
            Era::Handshake,
            &Refusal::PolicyDenied,
            decision(),
            true,
        );
        assert!(matches!(answered, Answer::Error(ref error, 200) if error.code == code::REFUSED));
    }
}
