//! The session-era handshake as a client: what Gatehouse offers in `initialize`, which
//! answers it accepts, and how it answers the few requests a server may send back.

use serde_json::{Value, json};

use crate::mcp_upstream::{Handshake, UpstreamError};
use gatehouse_core::mcp::jsonrpc::{ErrorObject, code};

/// The revision Gatehouse asks for.
pub(super) const OFFERED: &str = "2025-11-25";

/// Revisions Gatehouse speaks with a server: every handshake-era one. A server that
/// answers with anything else is refused rather than half-understood.
const SPOKEN: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// `initialize` params. Gatehouse declares no client capabilities: no roots, sampling or
/// elicitation reach an agent through it, so servers have no reason to ask for them.
pub(super) fn initialize_params() -> Value {
    json!({
        "protocolVersion": OFFERED,
        "capabilities": {},
        "clientInfo": {"name": "gatehouse", "version": env!("CARGO_PKG_VERSION")},
    })
}

/// Checks the server's answer to `initialize`.
pub(super) fn agree(outcome: Result<Value, ErrorObject>) -> Result<Handshake, UpstreamError> {
    let result = outcome.map_err(|error| {
        UpstreamError::Protocol(format!(
            "`initialize` was refused: {} (code {})",
            error.message, error.code
        ))
    })?;
    let answered = result.get("protocolVersion").and_then(Value::as_str);
    let Some(version) = answered.and_then(|answered| SPOKEN.into_iter().find(|v| *v == answered))
    else {
        return Err(UpstreamError::Protocol(format!(
            "the server answered `initialize` with protocol version {}; \
             Gatehouse speaks {}",
            answered.map_or_else(|| "(none)".to_owned(), |v| format!("`{v}`")),
            SPOKEN.join(", ")
        )));
    };
    Ok(Handshake {
        protocol_version: version,
        result,
    })
}

/// The answer to a request from the server. `ping` is answered; anything else (roots,
/// sampling, elicitation) is a capability Gatehouse did not declare.
pub(super) fn answer(method: &str) -> Result<Value, ErrorObject> {
    match method {
        "ping" => Ok(json!({})),
        other => Err(ErrorObject::new(
            code::METHOD_NOT_FOUND,
            format!("Gatehouse does not serve `{other}` to MCP servers"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handshake_era_version_is_accepted_and_others_refused() {
        for version in SPOKEN {
            let handshake = agree(Ok(json!({"protocolVersion": version}))).unwrap();
            assert_eq!(handshake.protocol_version, version);
        }
        for answer in [json!({"protocolVersion": "2026-07-28"}), json!({})] {
            assert!(matches!(agree(Ok(answer)), Err(UpstreamError::Protocol(_))));
        }
        let refused = agree(Err(ErrorObject::new(-32602, "no")));
        assert!(matches!(refused, Err(UpstreamError::Protocol(m)) if m.contains("refused")));
    }

    #[test]
    fn ping_is_answered_and_other_server_requests_are_not_served() {
        assert_eq!(answer("ping"), Ok(json!({})));
        assert_eq!(
            answer("roots/list").map_err(|error| error.code),
            Err(code::METHOD_NOT_FOUND)
        );
    }
}
