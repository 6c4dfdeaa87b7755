//! Phase 8: the event. A draft starts when the request arrives, each phase adds what it
//! learned, and it is emitted once: at the refusal, or when the response body has ended
//! (so streamed bytes and mid-stream failures are counted). A forwarded call is journaled
//! first, and its draft records an event even when dropped unfinished.

use std::sync::Arc;
use std::time::Instant;

use gatehouse_core::baseline::anomaly::AnomalySet;
use gatehouse_core::config::{McpMapping, McpServer};
use gatehouse_core::event::{Event, EventKind, Observed, Outcome, Would};
use gatehouse_core::ids::DecisionId;
use gatehouse_core::model::{
    AgentId, Intent, PolicyId, PolicySetVersion, SegmentName, TaskClassName, Tier, ToolName,
    WorkflowId,
};
use gatehouse_core::refusal::{Refusal, RefusalKind};
use gatehouse_policy::{DecisionContext, PolicyDecision};
use http::{Request, Response};

use crate::access_log;
use crate::anonymous::summary_event;
use crate::body::{BodyEnd, ResponseBody};
use crate::credential::Credential;
use crate::events::Emitter;
use crate::journal::Ticket;
use crate::pipeline::SHUT_DOWN;
use crate::pipeline::Target;
use crate::problem::problem_response;

/// Longest request path kept in an event.
const MAX_RECORDED_PATH: usize = 1024;

/// What the event of a call the agent left while the upstream was still answering says.
pub const AGENT_LEFT: &str = "the agent disconnected before the upstream answered: the call \
     was charged and may have reached the upstream; no answer was delivered";

/// Who calls the token endpoint, known before any credential exists.
#[derive(Debug, Clone)]
pub struct Identity {
    pub agent: AgentId,
    pub workflow: WorkflowId,
    pub task_class: TaskClassName,
    pub segment: SegmentName,
}

/// An event under construction.
#[derive(Debug)]
pub struct EventDraft {
    /// On the heap: a draft is passed by value through every phase of a call and lives
    /// in the call's future, which is moved as a whole; the event is most of its size.
    event: Box<Event>,
    started: Instant,
    /// Microseconds from the start to forwarding, once the call was forwarded.
    decided_us: Option<u64>,
    /// Set once the call is journaled, i.e. about to be forwarded: from then on the
    /// draft records an event even if it is dropped unfinished (the agent went away).
    journaled: Option<Journaled>,
    /// Whether the call was counted in its agent's baseline, so its bytes are too.
    judged: bool,
}

#[derive(Debug)]
struct Journaled {
    ticket: Ticket,
    emitter: Arc<Emitter>,
}

impl Clone for EventDraft {
    /// A copy never owns the journaled call: only the original records its end.
    fn clone(&self) -> Self {
        Self {
            event: self.event.clone(),
            started: self.started,
            decided_us: self.decided_us,
            journaled: None,
            judged: self.judged,
        }
    }
}

impl Drop for EventDraft {
    fn drop(&mut self) {
        let Some(journaled) = self.journaled.take() else {
            return;
        };
        self.event.outcome = Outcome::Error;
        self.event.status = 0;
        self.note(AGENT_LEFT);
        let event = self.finished();
        access_log::line(&event);
        journaled.emitter.metrics.observe(&event, self.decided_us);
        if self.judged {
            journaled.emitter.baselines.add_bytes(&event);
        }
        journaled
            .emitter
            .sink
            .emit_journaled(event, journaled.ticket);
    }
}

impl EventDraft {
    pub fn begin<B>(emitter: &Emitter, request: &Request<B>, kind: EventKind) -> Self {
        let now = emitter.clock.now();
        let path = request.uri().path();
        let path = path.get(..MAX_RECORDED_PATH).unwrap_or(path);
        let mut event = Event {
            method: request.method().as_str().to_owned(),
            path: path.to_owned(),
            ..Event::blank(emitter.next_id_at(now), now.millis(), kind)
        };
        crate::trace::record_incoming(&mut event, request.headers());
        Self {
            event: Box::new(event),
            started: Instant::now(),
            decided_us: None,
            journaled: None,
            judged: false,
        }
    }

    pub fn id(&self) -> DecisionId {
        self.event.id
    }

    /// The call's span: under the caller's trace, or the root of a fresh one.
    pub(crate) fn span(&self) -> gatehouse_core::trace::CallSpan {
        crate::trace::span_of(&self.event)
    }

    /// When the call arrived, Unix milliseconds.
    pub fn time_ms(&self) -> i64 {
        self.event.time_ms
    }

    /// Moves the draft out, leaving an empty one that must not be emitted: for the
    /// response body of a forwarded call, which finishes the event when it ends.
    pub fn take(&mut self) -> Self {
        let spent = Self {
            event: Box::new(Event::blank(
                self.event.id,
                self.event.time_ms,
                self.event.kind,
            )),
            started: self.started,
            decided_us: None,
            journaled: None,
            judged: false,
        };
        std::mem::replace(self, spent)
    }

    /// Journals the call just before it is forwarded (one write of the draft, durable
    /// against `kill -9`), so that a call the upstream saw always gets its event: at its
    /// end, when the agent leaves first, or at the next start after a crash.
    pub fn journal(&mut self, emitter: &Arc<Emitter>) -> Result<(), Refusal> {
        if let Some(queued) = emitter.sink.full() {
            return Err(Refusal::Unrecordable { queued });
        }
        let ticket = emitter
            .sink
            .journal(&self.event)
            .map_err(|error| Refusal::Internal {
                reason: format!("cannot journal the call before forwarding it: {error}"),
            })?;
        self.journaled = ticket.map(|ticket| Journaled {
            ticket,
            emitter: Arc::clone(emitter),
        });
        Ok(())
    }

    /// The credential's names, shared with the cached credential (no copy of their text).
    pub fn credential(&mut self, credential: &Credential) {
        self.event.agent = Some(credential.agent.clone());
        self.event.workflow = Some(credential.workflow.clone());
        self.event.task_class = Some(credential.task_class.clone());
        self.event.segment = Some(credential.segment.clone());
    }

    /// For the token endpoint, where identity is known before any credential exists.
    pub fn identity(&mut self, identity: Identity) {
        self.event.agent = Some(identity.agent);
        self.event.workflow = Some(identity.workflow);
        self.event.task_class = Some(identity.task_class);
        self.event.segment = Some(identity.segment);
    }

    pub fn agent(&mut self, agent: AgentId) {
        self.event.agent = Some(agent);
    }

    pub fn target(&mut self, target: &Target<'_>) {
        self.event.tool = Some(target.tool.clone());
        self.event.segment = Some(target.segment.clone());
        self.event.intent = Some(target.intent.clone());
        self.event.tier = Some(target.tier);
        self.event.data_class = Some(target.data_class.clone());
    }

    /// A call that reached a tool but no route of it (discovery): no intent, data class
    /// or tier to record.
    pub fn unrouted(&mut self, tool: &ToolName, segment: &SegmentName) {
        self.event.tool = Some(tool.clone());
        self.event.segment = Some(segment.clone());
    }

    /// Marks a call in observe mode (`observe.rs`): `pass` first.
    pub fn observe(&mut self) {
        self.event.observed.get_or_insert(Observed::Pass);
    }

    /// Adds a thing enforcing would have done to an observed call.
    pub fn would(&mut self, would: Would) {
        match &mut self.event.observed {
            Some(observed) => observed.add(would),
            slot @ None => *slot = Some(Observed::Would(vec![would])),
        }
    }

    /// An MCP message: the JSON-RPC method stands where an HTTP call has its method.
    pub fn rpc_method(&mut self, method: &str) {
        self.event.method = method.chars().take(128).collect();
    }

    /// An MCP server and, for a gated call, how it was classified.
    pub fn mcp(&mut self, server: &McpServer, mapping: Option<&McpMapping>) {
        self.event.tool = Some(server.name.clone());
        self.event.segment = Some(server.segment.clone());
        if let Some(mapping) = mapping {
            self.event.intent = Some(mapping.intent.clone());
            self.event.tier = Some(mapping.tier);
            self.event.data_class = Some(mapping.data_class.clone());
        }
    }

    /// The caller's task class, once authenticated.
    pub fn task_class(&self) -> Option<&str> {
        self.event.task_class.as_deref()
    }

    /// What scanning the response found.
    pub fn risk(&mut self, risk: gatehouse_core::event::ResponseRisk) {
        self.event.risk = Some(Box::new(risk));
    }

    /// The agent's MCP session the call was made in.
    pub fn mcp_session(&mut self, session: &str) {
        self.event.mcp_session = Some(session.to_owned());
    }

    pub fn intent(&mut self, intent: Intent) {
        self.event.intent = Some(intent);
    }

    /// The ids of the policies recorded so far.
    pub fn policy_ids(&self) -> &[PolicyId] {
        &self.event.policies
    }

    /// The version of the policy set that decided, once policy has.
    pub fn policy_version(&self) -> Option<PolicySetVersion> {
        self.event.policy_version.clone()
    }

    /// What the decide phase gave Cedar and whether it allowed the call, for replay.
    pub fn decided(&mut self, context: &DecisionContext<'_>, decision: &PolicyDecision) {
        let allowed = decision.allowed && decision.errors.is_empty();
        self.event.decide = Some(context.input(allowed));
    }

    pub fn policies(&mut self, decision: PolicyDecision) {
        self.event.policies = decision.policies;
        self.event.policy_version = Some(PolicySetVersion::new(decision.version));
        if !decision.errors.is_empty() {
            self.event.reason = Some(format!("policy errors: {}", decision.errors.join("; ")));
        }
    }

    /// The call was counted in its agent's baseline and departs from it so.
    pub fn anomaly(&mut self, anomalies: AnomalySet) {
        self.event.anomaly = anomalies;
        self.judged = true;
    }

    pub fn tier(&mut self, tier: Tier) {
        self.event.tier = Some(tier);
    }

    /// Records a call parked for approval (the draft stays for nothing else).
    pub fn parked(&self, emitter: &Emitter, status: u16) {
        let mut parked = self.clone();
        parked.event.status = status;
        parked.event.outcome = Outcome::Pending;
        parked.emit(emitter);
    }

    /// For a call Gatehouse makes itself (an approved call it executes).
    pub fn synthetic(emitter: &Emitter, kind: EventKind, method: &str, path: &str) -> Self {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap_or_default();
        Self::begin(emitter, &request, kind)
    }

    /// Adds a note to the event's reason.
    pub fn note(&mut self, note: &str) {
        self.event.reason = Some(match self.event.reason.take() {
            Some(previous) => format!("{previous}; {note}"),
            None => note.to_owned(),
        });
    }

    pub fn bytes_in(&mut self, bytes: u64) {
        self.event.bytes_in = bytes;
    }

    /// The tool's time to answer; what came before it is the time Gatehouse took to
    /// decide, for the metrics.
    pub fn upstream_us(&mut self, micros: u64) {
        self.event.upstream_us = Some(micros);
        let elapsed = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.decided_us = Some(elapsed.saturating_sub(micros));
    }

    /// Ends the call with `refusal`: the problem document for the agent, the full
    /// reason for the event.
    pub fn refuse(self, emitter: &Emitter, refusal: &Refusal) -> Response<ResponseBody> {
        let response = problem_response(refusal, Some(self.event.id));
        self.refused(emitter, refusal, refusal.status());
        response
    }

    /// Records `refusal` for a transport that answers in its own shape (MCP), with the
    /// HTTP status it answered with.
    pub fn refused(mut self, emitter: &Emitter, refusal: &Refusal, status: u16) {
        self.event.outcome = refusal_outcome(refusal);
        self.event.refusal = Some(refusal.kind());
        let reason = match self.event.reason.take() {
            Some(previous) => format!("{}; {previous}", refusal.reason()),
            None => refusal.reason(),
        };
        self.event.reason = Some(reason);
        self.event.status = status;
        self.emit(emitter);
    }

    /// Ends an allowed call once its response body has ended.
    pub fn complete(mut self, emitter: &Emitter, status: u16, bytes_out: u64, end: &BodyEnd) {
        self.event.status = status;
        self.event.bytes_out = bytes_out;
        self.event.outcome = Outcome::Allow;
        match end {
            BodyEnd::Complete => {}
            BodyEnd::Aborted => {
                self.event.reason = Some("response aborted by the client".to_owned())
            }
            BodyEnd::Failed(error) => {
                self.event.outcome = Outcome::Error;
                self.event.refusal = Some(RefusalKind::UpstreamUnavailable);
                self.event.reason = Some(format!("upstream failed mid-response: {error}"));
            }
            BodyEnd::Revoked(reason) if reason == SHUT_DOWN => {
                self.event.outcome = Outcome::Error;
                self.event.reason = Some(format!("response cut mid-stream: {reason}"));
            }
            BodyEnd::Revoked(reason) => {
                self.event.outcome = Outcome::Error;
                let refusal = if reason.starts_with(crate::quarantines::CUT) {
                    RefusalKind::Quarantined
                } else {
                    RefusalKind::Unauthenticated
                };
                self.event.refusal = Some(refusal);
                self.event.reason = Some(format!("response cut mid-stream: {reason}"));
            }
            BodyEnd::BudgetCut => {
                self.event.outcome = Outcome::Error;
                self.event.refusal = Some(RefusalKind::BudgetExhausted);
                self.event.reason =
                    Some("response cut mid-stream: the workflow's byte budget is spent".to_owned());
            }
            BodyEnd::Cut { limit } => {
                self.event.outcome = Outcome::Error;
                self.event.refusal = Some(RefusalKind::ResponseTooLarge);
                self.event.reason = Some(format!("response cut at the limit of {limit} bytes"));
            }
        }
        self.emit(emitter);
    }

    /// Ends an allowed call whose whole answer is known (MCP replies are not streamed).
    pub fn answered(mut self, emitter: &Emitter, status: u16, bytes_out: u64) {
        self.event.bytes_out = bytes_out;
        self.allow(emitter, status);
    }

    /// Ends a call the gateway answered itself (the token endpoint).
    pub fn allow(mut self, emitter: &Emitter, status: u16) {
        self.event.status = status;
        self.event.outcome = Outcome::Allow;
        self.emit(emitter);
    }

    fn emit(mut self, emitter: &Emitter) {
        let journaled = self.journaled.take();
        // Only events with a reason carry text from outside (an upstream's error message);
        // an allowed call's event has none and pays nothing here.
        if let Some(reason) = &mut self.event.reason {
            emitter.secrets.redact(reason);
        }
        let event = self.finished();
        access_log::line(&event);
        emitter.metrics.observe(&event, self.decided_us);
        if self.judged {
            emitter.baselines.add_bytes(&event);
        }
        match journaled {
            Some(journaled) => emitter.sink.emit_journaled(event, journaled.ticket),
            // Unauthenticated refusals are sampled (`anonymous`); a journaled call never is.
            None => {
                let (stored, closed) = emitter.anonymous.admit(&event);
                if let Some(summary) = closed {
                    let id = emitter.next_id();
                    emitter.sink.emit(summary_event(id, summary, event.time_ms));
                }
                if stored {
                    emitter.sink.emit(event);
                }
            }
        }
    }

    /// The event with its latency, leaving an empty one behind (no allocation).
    fn finished(&mut self) -> Event {
        let micros = self.started.elapsed().as_micros();
        self.event.latency_us = u64::try_from(micros).unwrap_or(u64::MAX);
        let blank = Event::blank(self.event.id, self.event.time_ms, self.event.kind);
        std::mem::replace(&mut *self.event, blank)
    }
}

fn refusal_outcome(refusal: &Refusal) -> Outcome {
    match refusal {
        Refusal::ConfirmationRequired { .. } => Outcome::Confirm,
        Refusal::ApprovalPending { .. } => Outcome::Pending,
        Refusal::UpstreamUnavailable { .. }
        | Refusal::UpstreamTimeout
        | Refusal::ResponseUnscannable { .. }
        | Refusal::Internal { .. }
        | Refusal::StaleState { .. }
        | Refusal::Unrecordable { .. } => Outcome::Error,
        Refusal::Unauthenticated(_)
        | Refusal::InvalidAssertion(_)
        | Refusal::BadTokenRequest { .. }
        | Refusal::TaskClassNotAllowed { .. }
        | Refusal::AmbiguousPath { .. }
        | Refusal::UnknownTool { .. }
        | Refusal::NoRoute
        | Refusal::SegmentMismatch { .. }
        | Refusal::OutOfScope { .. }
        | Refusal::PolicyDenied
        | Refusal::Quarantined { .. }
        | Refusal::BudgetExhausted { .. }
        | Refusal::ConfirmationRejected { .. }
        | Refusal::ApprovalDenied { .. }
        | Refusal::ApprovalExpired { .. }
        | Refusal::ApprovalCancelled { .. }
        | Refusal::BadMessage { .. }
        | Refusal::UnknownMethod { .. }
        | Refusal::SessionUnknown
        | Refusal::BadArguments { .. }
        | Refusal::OriginRejected { .. }
        | Refusal::UnsafeRequest { .. }
        | Refusal::MalformedBody { .. }
        | Refusal::RateLimited
        | Refusal::TooManyPending { .. }
        | Refusal::HeadersTooLarge
        | Refusal::BodyTooLarge { .. }
        | Refusal::ResponseClassExceeded { .. } => Outcome::Deny,
    }
}
