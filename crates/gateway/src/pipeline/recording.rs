//! Recording calls whole while forensics (`crate::forensics`) covers their agent or
//! workflow: the request as sent to the tool and the response as returned to the agent,
//! bodies capped at [`MAX_BODY`], the injected secret, credential headers and the fields
//! the operator named redacted. A recording is stored under the call's decision id
//! (`Store::put_recording`) when its last part is dropped. The faces call these hooks
//! from their forward phase; each is a no-op for a call nobody records.

mod capture;

use gatehouse_core::refusal::Refusal;

pub use capture::Recorder;

/// The most body bytes kept per direction; the rest is counted, not kept.
pub const MAX_BODY: usize = 64 * 1024;

/// `request` with its recording begun, when the call is recorded; refused when its
/// segment requires the recording and it cannot be written.
pub async fn request(
    recorder: Option<&Recorder>,
    request: http::Request<crate::body::ResponseBody>,
) -> Result<http::Request<crate::body::ResponseBody>, Refusal> {
    let Some(recorder) = recorder else {
        return Ok(request);
    };
    let request = recorder.request(request);
    recorder.ensure_written().await?;
    Ok(request)
}

/// `response` recorded as it streams, when the call is recorded.
pub fn response(
    recorder: Option<Recorder>,
    response: http::Response<crate::body::ResponseBody>,
) -> http::Response<crate::body::ResponseBody> {
    match recorder {
        Some(recorder) => recorder.response(response),
        None => response,
    }
}

/// The MCP request, recorded when the call is (see [`request`]).
pub async fn mcp_request(
    recorder: Option<&Recorder>,
    method: &str,
    params: &serde_json::Value,
) -> Result<(), Refusal> {
    let Some(recorder) = recorder else {
        return Ok(());
    };
    recorder.mcp_request(method, params);
    recorder.ensure_written().await
}

/// The MCP server's answer (its `result` or `error` member), recorded (and the
/// recording stored) when the call is.
pub fn mcp_reply(recorder: Option<Recorder>, answer: serde_json::Value) {
    if let Some(recorder) = recorder {
        recorder.mcp_reply(answer);
    }
}

/// A recorder for this call if forensics covers it (see `Forensics::redactions`).
pub fn recorder(
    tap: crate::forensics::Tap<'_>,
    agent: &str,
    workflow: &str,
    tool: &str,
    draft: &crate::pipeline::record::EventDraft,
) -> Option<Recorder> {
    // The one check every call pays: no clock read, no lock, while nothing is recorded.
    if !tap.forensics.active() {
        return None;
    }
    let now_ms = tap.clock.now().millis();
    let redact = tap.forensics.redactions(agent, workflow, now_ms)?;
    Some(Recorder::new(tap, draft, agent, workflow, tool, redact))
}
