//! Phase 7 of an MCP call: the server itself.

use std::sync::Arc;
use std::time::Instant;

use gatehouse_core::config::{McpServer, McpTransport};
use gatehouse_core::refusal::Refusal;
use gatehouse_core::workflow::BudgetKind;

use super::{Raw, Reply, Upcall};
use crate::mcp_upstream::{Params, UpstreamError};
use crate::pipeline::budget;
use crate::pipeline::cancel::{Guarded, OnBehalf, cancellation, cancelled};
use crate::pipeline::record::EventDraft;
use crate::pipeline::recording;
use crate::pipeline::risk::Screen;
use crate::quarantines::Reach;
use crate::state::State;
use crate::workflows::LiveWorkflow;

/// Phase 7: the server, with its secret, racing revocation; the answer's bytes count
/// against the byte budget and an answer that would overspend it is withheld. The
/// notifications relayed meanwhile are not counted: they are bounded per call instead.
///
/// The result is passed on as the server wrote it ([`Reply::Raw`]) unless the route
/// reads it: a response scan or redaction, or a forensic recording of the call.
pub async fn forward(
    state: &Arc<State>,
    server: &McpServer,
    workflow: &Arc<LiveWorkflow>,
    on_behalf: OnBehalf<'_>,
    upcall: Upcall<'_>,
    draft: &mut EventDraft,
) -> Result<Reply, Refusal> {
    let upstream = state
        .mcp
        .upstreams
        .get(&server.name)
        .ok_or_else(|| Refusal::Internal {
            reason: format!("no upstream client for MCP server `{}`", server.name),
        })?;
    let secret = match &server.transport {
        McpTransport::Http { auth: Some(_), .. } => state.secrets.current(&server.name),
        McpTransport::Http { auth: None, .. } | McpTransport::Stdio(_) => None,
    };
    let timeout = server.timeout;
    let guarded = Guarded {
        caller: on_behalf,
        workflow,
        declared: 0,
        reach: Reach {
            agent: on_behalf.agent,
            tool: &server.name,
            segment: &server.segment,
            intent: upcall.intent,
        },
    };
    let recorder = recording::recorder(
        state.tap(),
        on_behalf.agent,
        on_behalf.workflow,
        server.name.as_str(),
        draft,
    );
    draft.journal(&state.emitter)?;
    let started = Instant::now();
    let cancel = cancellation(&state.cuts, guarded);
    let screen = Screen::of(&state.config, upcall.risk, draft);
    let Upcall {
        method,
        params,
        traceparent,
        relay,
        intent: _,
        risk: _,
    } = upcall;
    let mut params = Params::new(&params);
    if let Some(traceparent) = &traceparent {
        params = params.traced(traceparent);
    }
    if let Some(recorder) = &recorder {
        recording::mcp_request(Some(recorder), method, &params.tree()).await?;
    }
    let request = upstream.call(method, params, secret.as_ref(), timeout, relay);
    let outcome = tokio::select! {
        outcome = request => outcome,
        reason = cancel => return Err(cancelled(&state.cuts, guarded, draft, &reason)),
    };
    draft.upstream_us(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    let mut reply = match outcome {
        Ok(Ok(result)) if screen.is_some() || recorder.is_some() => {
            Reply::Result(Raw::new(result).tree()?)
        }
        Ok(Ok(result)) => Reply::Raw(Raw::new(result)),
        Ok(Err(error)) => Reply::Error(error),
        Err(UpstreamError::Timeout) => return Err(Refusal::UpstreamTimeout),
        Err(UpstreamError::TooLarge) => {
            let limit = state.config.gateway.limits.max_response_body;
            draft.note(&format!(
                "the server's answer exceeds the response limit of {limit} bytes"
            ));
            return Err(Refusal::UpstreamUnavailable {
                reason: format!("answer larger than {limit} bytes"),
            });
        }
        Err(error) => {
            return Err(Refusal::UpstreamUnavailable {
                reason: error.to_string(),
            });
        }
    };
    if let (Some(screen), Reply::Result(result)) = (&screen, &mut reply) {
        // Judged (and redacted) before it is recorded or charged: a withheld result
        // costs nothing.
        screen.judge_result(result, draft)?;
    }
    if recorder.is_some() {
        recording::mcp_reply(recorder, reply_json(&reply));
    }
    let size = match &reply {
        Reply::Result(value) => json_len(value),
        Reply::Raw(raw) => raw.text.get().len(),
        Reply::Error(_) => 0,
    };
    if workflow.add_bytes(size as u64, &*state.store).is_err() {
        let snapshot = workflow.snapshot();
        budget::notify_paused(state.pauses(), &snapshot, BudgetKind::Bytes);
        draft.note(&format!("the server's answer of {size} bytes was withheld"));
        return Err(Refusal::BudgetExhausted {
            workflow: snapshot.id.clone(),
            kind: BudgetKind::Bytes,
            spent: snapshot.usage.bytes,
            limit: snapshot.budget.bytes,
        });
    }
    Ok(reply)
}

/// The server's answer as the JSON-RPC member it was (`result` or `error`), for a
/// forensic recording.
fn reply_json(reply: &Reply) -> serde_json::Value {
    match reply {
        Reply::Result(result) => serde_json::json!({ "result": result }),
        // Not made by `forward` when the call is recorded; its text if it were.
        Reply::Raw(raw) => serde_json::json!({ "result": raw.tree().unwrap_or_default() }),
        Reply::Error(error) => serde_json::json!({
            "error": { "code": error.code, "message": error.message, "data": error.data },
        }),
    }
}

/// How many bytes `value` serialises to, counted without writing them anywhere.
fn json_len(value: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(bytes.len());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Counting cannot fail, and a `Value` always serialises.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_len_counts_the_serialised_bytes() {
        let value = serde_json::json!({"content": [{"type": "text", "text": "é \"x\""}], "n": 1.5});
        assert_eq!(
            json_len(&value),
            serde_json::to_vec(&value).unwrap_or_default().len()
        );
    }
}
