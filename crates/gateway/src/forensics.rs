//! Forensics mode (issue 14 item 6): while an operator has it on for an agent or a
//! workflow, each of its tool calls (HTTP and MCP) is recorded whole, as it crossed the
//! gateway: the request as sent to the tool and the response as returned to the agent,
//! bodies capped at [`MAX_BODY`], the injected secret and sensitive headers redacted, and
//! the JSON fields the operator named redacted. A recording is stored under the call's
//! decision id (`Store::put_recording`) when the response has ended.
//!
//! Cost for calls nobody records: [`Forensics::recorder`] is one atomic load.
//! The targets are held in memory only: a restart turns forensics off.

mod capture;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use gatehouse_core::refusal::Refusal;
use serde::{Deserialize, Serialize};

pub use capture::Recorder;

/// The most body bytes kept per direction; the rest is counted, not kept.
pub const MAX_BODY: usize = 64 * 1024;

/// Whom forensics records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Agent,
    Workflow,
}

/// One agent or workflow under forensics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub kind: TargetKind,
    pub subject: String,
    /// When it turns itself off, Unix milliseconds; `None` holds until turned off.
    pub until_ms: Option<i64>,
    pub by: String,
    pub at_ms: i64,
    /// JSON fields (by key, at any depth) and header names whose values are redacted.
    #[serde(default)]
    pub redact: Vec<String>,
}

impl Target {
    fn covers(&self, agent: &str, workflow: &str, now_ms: i64) -> bool {
        let subject = match self.kind {
            TargetKind::Agent => agent,
            TargetKind::Workflow => workflow,
        };
        self.subject == subject && self.until_ms.is_none_or(|until| now_ms < until)
    }
}

/// The targets in force.
#[derive(Debug, Default)]
pub struct Forensics {
    /// How many targets are held: zero means no call is recorded, read with one load.
    held: AtomicUsize,
    targets: RwLock<Vec<Target>>,
}

impl Forensics {
    /// What to redact when the call of `agent` in `workflow` is recorded, or `None` when
    /// it is not: one atomic load while forensics is off everywhere.
    pub fn redactions(&self, agent: &str, workflow: &str, now_ms: i64) -> Option<Vec<String>> {
        if self.held.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let targets = self.targets.read().unwrap_or_else(PoisonError::into_inner);
        let mut covering = targets
            .iter()
            .filter(|target| target.covers(agent, workflow, now_ms))
            .peekable();
        covering.peek()?;
        Some(
            covering
                .flat_map(|target| target.redact.iter().cloned())
                .collect(),
        )
    }

    /// Turns forensics on for `target`, replacing one for the same subject.
    pub fn add(&self, target: Target) {
        let mut targets = self.targets.write().unwrap_or_else(PoisonError::into_inner);
        targets.retain(|held| !(held.kind == target.kind && held.subject == target.subject));
        targets.push(target);
        self.held.store(targets.len(), Ordering::Relaxed);
    }

    /// Turns it off; returns the target if it was on.
    pub fn remove(&self, kind: TargetKind, subject: &str) -> Option<Target> {
        let mut targets = self.targets.write().unwrap_or_else(PoisonError::into_inner);
        let index = targets
            .iter()
            .position(|held| held.kind == kind && held.subject == subject)?;
        let removed = targets.remove(index);
        self.held.store(targets.len(), Ordering::Relaxed);
        Some(removed)
    }

    /// The targets still in force at `now_ms` (ended ones are dropped).
    pub fn list(&self, now_ms: i64) -> Vec<Target> {
        let mut targets = self.targets.write().unwrap_or_else(PoisonError::into_inner);
        targets.retain(|target| target.until_ms.is_none_or(|until| now_ms < until));
        self.held.store(targets.len(), Ordering::Relaxed);
        targets.clone()
    }
}

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

/// The MCP server's answer, recorded (and the recording stored) when the call is.
pub fn mcp_reply(recorder: Option<Recorder>, reply: &crate::mcp::call::Reply) {
    let Some(recorder) = recorder else {
        return;
    };
    let answer = match reply {
        crate::mcp::call::Reply::Result(result) => serde_json::json!({ "result": result }),
        crate::mcp::call::Reply::Error(error) => serde_json::json!({
            "error": { "code": error.code, "message": error.message, "data": error.data },
        }),
    };
    recorder.mcp_reply(answer);
}

/// A recorder for this call if forensics covers it (see [`Forensics::redactions`]).
pub fn recorder(
    state: &Arc<crate::state::State>,
    agent: &str,
    workflow: &str,
    tool: &str,
    draft: &crate::dataplane::record::EventDraft,
) -> Option<Recorder> {
    // The one check every call pays: no clock read, no lock, while nothing is recorded.
    if state.forensics.held.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let now_ms = state.clock.now().millis();
    let redact = state.forensics.redactions(agent, workflow, now_ms)?;
    Some(Recorder::new(state, draft, agent, workflow, tool, redact))
}
