//! The one closed set of reasons a call is refused.
//!
//! Each variant maps, exhaustively and in one place each, to an HTTP status, a stable
//! problem `type` (RFC 9457), a title safe to show the agent, and the label used in
//! events and metrics. The agent sees the kind and a short detail; the event gets the
//! full reason through [`Refusal::reason`].

mod kind;

use std::borrow::Cow;
use std::fmt;

pub use kind::{RefusalKind, UnknownRefusalKind};

use crate::ids::ApprovalId;
use crate::model::WorkflowId;
use crate::workflow::BudgetKind;

/// Why a credential or assertion was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthFailure {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a well-formed compact JWT, or claims that are not a JSON object.
    Malformed,
    /// A required claim is absent (its name, from a fixed set, is safe to show).
    MissingClaim(&'static str),
    /// A claim has the wrong type (its name, from a fixed set, is safe to show).
    BadClaim(&'static str),
    /// An algorithm other than the ones Gatehouse accepts (`none`, `HS256`, …).
    DisallowedAlgorithm,
    /// No key with that id, or no key for that issuer.
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// Past its expiry.
    Expired,
    /// Before its not-before or issued-at time.
    NotYetValid,
    /// Its lifetime is longer than allowed.
    LifetimeTooLong,
    /// Meant for another audience.
    WrongAudience,
    /// An assertion whose `jti` was already used.
    Replayed,
    /// An identity Gatehouse does not know.
    UnknownAgent,
    /// The token is of the wrong kind (an assertion where a credential belongs).
    WrongTokenType,
    /// Revoked by an operator.
    Revoked,
}

impl AuthFailure {
    pub fn detail(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Self::Missing => "no bearer credential was presented",
            Self::Malformed => "the token is malformed",
            Self::MissingClaim(claim) => {
                return Cow::Owned(format!("the token lacks the required `{claim}` claim"));
            }
            Self::BadClaim(claim) => {
                return Cow::Owned(format!("the token's `{claim}` claim has the wrong type"));
            }
            Self::DisallowedAlgorithm => "the token's signing algorithm is not accepted",
            Self::UnknownKey => "the token is signed with an unknown key",
            Self::BadSignature => "the token's signature does not verify",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::LifetimeTooLong => "the token's lifetime exceeds the allowed maximum",
            Self::WrongAudience => "the token is meant for another audience",
            Self::Replayed => "the assertion was already used",
            Self::UnknownAgent => "the identity is not registered",
            Self::WrongTokenType => "the token is not of the expected kind",
            Self::Revoked => "the credential has been revoked",
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::MissingClaim(_) => "missing_claim",
            Self::BadClaim(_) => "bad_claim",
            Self::DisallowedAlgorithm => "disallowed_algorithm",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::LifetimeTooLong => "lifetime_too_long",
            Self::WrongAudience => "wrong_audience",
            Self::Replayed => "replayed",
            Self::UnknownAgent => "unknown_agent",
            Self::WrongTokenType => "wrong_token_type",
            Self::Revoked => "revoked",
        }
    }
}

/// A refused call. Closed: adding a variant makes every mapping below fail to compile
/// until it is handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The bearer credential was missing or not accepted (401).
    Unauthenticated(AuthFailure),
    /// The identity assertion at the token endpoint was not accepted (401).
    InvalidAssertion(AuthFailure),
    /// The token request itself was malformed (400).
    BadTokenRequest { reason: String },
    /// The agent may not obtain this task class (403).
    TaskClassNotAllowed { task_class: String },
    /// The path is ambiguous once decoded (400).
    AmbiguousPath { reason: String },
    /// No tool of that name (404).
    UnknownTool { tool: String },
    /// No route of the tool matches the method and path (404).
    NoRoute,
    /// The credential's segment is not the tool's segment (403).
    SegmentMismatch { credential: String, tool: String },
    /// The intent is outside the credential's scope (403).
    OutOfScope { intent: String },
    /// Policy denied the call (403); the ids of the determining policies go to the event.
    PolicyDenied,
    /// An operator's quarantine covers the call's agent, tool, segment or intent (403):
    /// a temporary deny that wins over every permit. `id` names the quarantine.
    Quarantined { id: String },
    /// The workflow's budget is spent, so it is paused until an operator resumes it (429).
    BudgetExhausted {
        workflow: WorkflowId,
        kind: BudgetKind,
        spent: u64,
        limit: u64,
    },
    /// A medium-tier call needs its workflow's confirmer to confirm it; re-send the same
    /// call with the confirmation id once confirmed (428).
    ConfirmationRequired { id: ApprovalId },
    /// The confirmation presented does not fit this call, is not confirmed yet, or was used (403).
    ConfirmationRejected { reason: String },
    /// Approvers denied the parked call (403).
    ApprovalDenied { id: ApprovalId },
    /// Nobody approved the parked call in time (403).
    ApprovalExpired { id: ApprovalId },
    /// The parked call's workflow ended before it ran (403).
    ApprovalCancelled { id: ApprovalId },
    /// A high-tier call was parked for approval and has not run (202): an MCP tool call
    /// answers with this; HTTP answers with the approval document instead.
    ApprovalPending { id: ApprovalId },
    /// A malformed MCP message: not JSON-RPC, a batch, a reused id, headers that disagree
    /// with the body, an unsupported protocol version (400). `rpc_code` is the JSON-RPC
    /// error code the agent receives.
    BadMessage { rpc_code: i64, reason: String },
    /// No MCP method of that name, or one Gatehouse does not relay (404).
    UnknownMethod { method: String },
    /// The MCP session id is unknown, expired or not the caller's (404): start a new one.
    SessionUnknown,
    /// An MCP call's arguments do not have the declared types (400).
    BadArguments { reason: String },
    /// A browser `Origin` or `Host` that could be DNS rebinding (403).
    OriginRejected { origin: String },
    /// A request the tool could read differently from what was decided: a method-override
    /// or URL-rewrite header, a `_method` parameter, a connection upgrade (400).
    UnsafeRequest { reason: String },
    /// The request body could not be read as framed: bad chunking, shorter than its
    /// `Content-Length` (400). Nothing is counted against the budget.
    MalformedBody { reason: String },
    /// Too many token requests from one peer address (429); try again later.
    RateLimited,
    /// The workflow already has `limit` calls waiting for approval (429).
    TooManyPending { limit: usize },
    /// A request header section exceeded the limit (431).
    HeadersTooLarge,
    /// A request body exceeded the limit (413).
    BodyTooLarge { limit: u64 },
    /// The upstream could not be reached or failed mid-response (502).
    UpstreamUnavailable { reason: String },
    /// The upstream did not answer in time (504).
    UpstreamTimeout,
    /// The response was found to carry a data class above the credential's task class
    /// `max_data_class` (403); it was withheld, and none of it was charged.
    ResponseClassExceeded { class: String, ceiling: String },
    /// The response could not be scanned or redacted as its route requires (too long
    /// to hold, compressed, not JSON where fields are redacted) (502); withheld.
    ResponseUnscannable { reason: String },
    /// Gatehouse itself failed (500); the reason goes only to the event.
    Internal { reason: String },
    /// This replica has not heard other replicas' changes (revocations) for longer than
    /// allowed, so it cannot know the call is still permitted (503).
    StaleState { for_ms: u64 },
    /// The event queue is full (the store has not kept up, or is failing): a call whose
    /// event could not be recorded is not forwarded (503).
    Unrecordable { queued: usize },
}

impl Refusal {
    /// The HTTP status the agent receives.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthenticated(_) | Self::InvalidAssertion(_) => 401,
            Self::BadTokenRequest { .. }
            | Self::AmbiguousPath { .. }
            | Self::BadMessage { .. }
            | Self::BadArguments { .. }
            | Self::UnsafeRequest { .. }
            | Self::MalformedBody { .. } => 400,
            Self::ApprovalPending { .. } => 202,
            Self::UnknownMethod { .. } | Self::SessionUnknown => 404,
            Self::OriginRejected { .. } => 403,
            Self::TaskClassNotAllowed { .. }
            | Self::SegmentMismatch { .. }
            | Self::OutOfScope { .. }
            | Self::PolicyDenied
            | Self::Quarantined { .. }
            | Self::ConfirmationRejected { .. }
            | Self::ApprovalDenied { .. }
            | Self::ApprovalExpired { .. }
            | Self::ApprovalCancelled { .. } => 403,
            Self::ConfirmationRequired { .. } => 428,
            Self::BudgetExhausted { .. } | Self::RateLimited | Self::TooManyPending { .. } => 429,
            Self::UnknownTool { .. } | Self::NoRoute => 404,
            Self::BodyTooLarge { .. } => 413,
            Self::HeadersTooLarge => 431,
            Self::Internal { .. } => 500,
            Self::StaleState { .. } | Self::Unrecordable { .. } => 503,
            Self::UpstreamUnavailable { .. } => 502,
            Self::UpstreamTimeout => 504,
            Self::ResponseClassExceeded { .. } => 403,
            Self::ResponseUnscannable { .. } => 502,
        }
    }

    /// The stable kind: the last segment of the problem `type`, the event's reason and
    /// the metric label.
    pub fn kind(&self) -> RefusalKind {
        match self {
            Self::Unauthenticated(_) => RefusalKind::Unauthenticated,
            Self::InvalidAssertion(_) => RefusalKind::InvalidAssertion,
            Self::BadTokenRequest { .. } => RefusalKind::BadTokenRequest,
            Self::TaskClassNotAllowed { .. } => RefusalKind::TaskClassNotAllowed,
            Self::AmbiguousPath { .. } => RefusalKind::AmbiguousPath,
            Self::UnknownTool { .. } => RefusalKind::UnknownTool,
            Self::NoRoute => RefusalKind::NoRoute,
            Self::SegmentMismatch { .. } => RefusalKind::SegmentMismatch,
            Self::OutOfScope { .. } => RefusalKind::OutOfScope,
            Self::PolicyDenied => RefusalKind::PolicyDenied,
            Self::Quarantined { .. } => RefusalKind::Quarantined,
            Self::BudgetExhausted { .. } => RefusalKind::BudgetExhausted,
            Self::ConfirmationRequired { .. } => RefusalKind::ConfirmationRequired,
            Self::ConfirmationRejected { .. } => RefusalKind::ConfirmationRejected,
            Self::ApprovalDenied { .. } => RefusalKind::ApprovalDenied,
            Self::ApprovalExpired { .. } => RefusalKind::ApprovalExpired,
            Self::ApprovalCancelled { .. } => RefusalKind::ApprovalCancelled,
            Self::ApprovalPending { .. } => RefusalKind::ApprovalPending,
            Self::BadMessage { .. } => RefusalKind::BadMessage,
            Self::UnknownMethod { .. } => RefusalKind::UnknownMethod,
            Self::SessionUnknown => RefusalKind::SessionUnknown,
            Self::BadArguments { .. } => RefusalKind::BadArguments,
            Self::OriginRejected { .. } => RefusalKind::OriginRejected,
            Self::UnsafeRequest { .. } => RefusalKind::UnsafeRequest,
            Self::MalformedBody { .. } => RefusalKind::MalformedBody,
            Self::RateLimited => RefusalKind::RateLimited,
            Self::TooManyPending { .. } => RefusalKind::TooManyPending,
            Self::HeadersTooLarge => RefusalKind::HeadersTooLarge,
            Self::BodyTooLarge { .. } => RefusalKind::BodyTooLarge,
            Self::UpstreamUnavailable { .. } => RefusalKind::UpstreamUnavailable,
            Self::UpstreamTimeout => RefusalKind::UpstreamTimeout,
            Self::Internal { .. } => RefusalKind::Internal,
            Self::StaleState { .. } => RefusalKind::StaleState,
            Self::Unrecordable { .. } => RefusalKind::Unrecordable,
            Self::ResponseClassExceeded { .. } => RefusalKind::ResponseClassExceeded,
            Self::ResponseUnscannable { .. } => RefusalKind::ResponseUnscannable,
        }
    }

    /// The problem `type` URI.
    pub fn problem_type(&self) -> String {
        format!("urn:gatehouse:problem:{}", self.kind())
    }

    /// A short title for the agent.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "credential not accepted",
            Self::InvalidAssertion(_) => "identity assertion not accepted",
            Self::BadTokenRequest { .. } => "malformed token request",
            Self::TaskClassNotAllowed { .. } => "task class not allowed for this agent",
            Self::AmbiguousPath { .. } => "ambiguous request path",
            Self::UnknownTool { .. } => "unknown tool",
            Self::NoRoute => "no route matches this request",
            Self::SegmentMismatch { .. } => "credential not valid for this tool's segment",
            Self::OutOfScope { .. } => "intent outside the credential's scope",
            Self::PolicyDenied => "denied by policy",
            Self::Quarantined { .. } => "quarantined",
            Self::BudgetExhausted { .. } => "workflow budget exhausted",
            Self::ConfirmationRequired { .. } => "confirmation required",
            Self::ConfirmationRejected { .. } => "confirmation not accepted",
            Self::ApprovalDenied { .. } => "approval denied",
            Self::ApprovalExpired { .. } => "approval expired",
            Self::ApprovalCancelled { .. } => "approval cancelled",
            Self::ApprovalPending { .. } => "waiting for approval",
            Self::BadMessage { .. } => "malformed MCP message",
            Self::UnknownMethod { .. } => "unknown method",
            Self::SessionUnknown => "unknown MCP session",
            Self::BadArguments { .. } => "arguments not accepted",
            Self::OriginRejected { .. } => "origin not allowed",
            Self::UnsafeRequest { .. } => "request could change meaning at the tool",
            Self::MalformedBody { .. } => "malformed request body",
            Self::RateLimited => "too many requests",
            Self::TooManyPending { .. } => "too many calls waiting for approval",
            Self::HeadersTooLarge => "request headers too large",
            Self::BodyTooLarge { .. } => "request body too large",
            Self::UpstreamUnavailable { .. } => "tool unavailable",
            Self::UpstreamTimeout => "tool did not answer in time",
            Self::Internal { .. } => "internal error",
            Self::StaleState { .. } => "gateway temporarily unavailable",
            Self::Unrecordable { .. } => "the call cannot be recorded",
            Self::ResponseClassExceeded { .. } => {
                "response withheld: its data class is above the credential's"
            }
            Self::ResponseUnscannable { .. } => "response withheld: it could not be checked",
        }
    }

    /// A detail safe for the agent: what it sent or may do, never Gatehouse internals.
    pub fn detail(&self) -> String {
        match self {
            Self::Unauthenticated(failure) | Self::InvalidAssertion(failure) => {
                failure.detail().into_owned()
            }
            Self::BadTokenRequest { reason } | Self::AmbiguousPath { reason } => reason.clone(),
            Self::TaskClassNotAllowed { task_class } => {
                format!("this agent may not obtain task class `{task_class}`")
            }
            Self::UnknownTool { tool } => format!("no tool named `{tool}`"),
            Self::NoRoute => "the method and path match no route of this tool".to_owned(),
            Self::SegmentMismatch { credential, tool } => format!(
                "the credential is bound to segment `{credential}`, the tool lives in `{tool}`"
            ),
            Self::OutOfScope { intent } => {
                format!("intent `{intent}` is not in the credential's scope")
            }
            Self::PolicyDenied => "policy does not allow this call".to_owned(),
            Self::Quarantined { .. } => {
                "an operator has quarantined what this call reaches; it is refused until the quarantine ends".to_owned()
            }
            Self::BudgetExhausted {
                workflow,
                kind,
                spent,
                limit,
            } => format!(
                "workflow `{workflow}` has spent its `{kind}` budget ({spent} of {limit}) and is paused until an operator resumes it"
            ),
            Self::ConfirmationRequired { id } => format!(
                "this call needs a confirmation: once `{id}` is confirmed, send the same call again with header `Gatehouse-Confirmation: {id}`"
            ),
            Self::ConfirmationRejected { reason } => reason.clone(),
            Self::ApprovalDenied { id } => format!("approval `{id}` was denied"),
            Self::ApprovalExpired { id } => {
                format!("approval `{id}` expired before anyone approved it")
            }
            Self::ApprovalCancelled { id } => {
                format!("approval `{id}` was cancelled: its workflow ended")
            }
            Self::ApprovalPending { id } => format!(
                "this call was parked as approval `{id}`; it runs once approvers approve it: send the same call again with `_meta` `gatehouse/approval` = `{id}` (or poll GET /v1/approvals/{id}) for its result"
            ),
            Self::BadMessage { reason, .. }
            | Self::BadArguments { reason }
            | Self::UnsafeRequest { reason }
            | Self::MalformedBody { reason } => reason.clone(),
            Self::UnknownMethod { method } => format!("method `{method}` is not available"),
            Self::SessionUnknown => {
                "the MCP session is unknown or has ended: initialize a new one".to_owned()
            }
            Self::OriginRejected { origin } => {
                format!("requests from origin `{origin}` are not accepted")
            }
            Self::RateLimited => {
                "too many token requests from this address: slow down and try again".to_owned()
            }
            Self::TooManyPending { limit } => format!(
                "this workflow already has {limit} calls waiting for approval: wait until they are decided"
            ),
            Self::HeadersTooLarge => "the request headers exceed the limit".to_owned(),
            Self::BodyTooLarge { limit } => format!("the request body exceeds {limit} bytes"),
            Self::UpstreamUnavailable { .. } => "the tool could not be reached".to_owned(),
            Self::UpstreamTimeout => "the tool did not answer in time".to_owned(),
            Self::Internal { .. } => "the gateway failed to handle the request".to_owned(),
            Self::StaleState { .. } => {
                "this gateway replica cannot confirm current revocations; retry, another replica may answer".to_owned()
            }
            Self::Unrecordable { .. } => {
                "the gateway cannot record calls right now, so it forwards none; retry later".to_owned()
            }
            Self::ResponseClassExceeded { class, ceiling } => format!(
                "the tool's response carries `{class}` data; this credential may receive at most `{ceiling}`"
            ),
            Self::ResponseUnscannable { .. } => {
                "the tool's response could not be checked as its route requires, so it was withheld".to_owned()
            }
        }
    }

    /// Extension members of the problem document (RFC 9457 §3.2), safe for the agent.
    pub fn extensions(&self) -> Vec<(&'static str, serde_json::Value)> {
        match self {
            Self::BudgetExhausted {
                workflow,
                kind,
                spent,
                limit,
            } => vec![
                ("workflow", workflow.as_str().into()),
                (
                    "budget",
                    serde_json::json!({ "kind": kind, "spent": spent, "limit": limit }),
                ),
            ],
            Self::ConfirmationRequired { id } => vec![("confirmation_id", id.as_str().into())],
            Self::Quarantined { id } => vec![("quarantine_id", id.as_str().into())],
            Self::ApprovalPending { id } => vec![("approval_id", id.as_str().into())],
            Self::ApprovalDenied { id }
            | Self::ApprovalExpired { id }
            | Self::ApprovalCancelled { id } => {
                vec![("approval_id", id.as_str().into())]
            }
            _ => Vec::new(),
        }
    }

    /// The full reason, for the event only.
    pub fn reason(&self) -> String {
        match self {
            Self::Unauthenticated(failure) | Self::InvalidAssertion(failure) => {
                format!("{}: {}", self.kind(), failure.label())
            }
            Self::UpstreamUnavailable { reason }
            | Self::Internal { reason }
            | Self::ResponseUnscannable { reason } => {
                format!("{}: {reason}", self.kind())
            }
            Self::StaleState { for_ms } => format!(
                "{}: no news of other replicas' changes for {for_ms} ms",
                self.kind()
            ),
            Self::Unrecordable { queued } => format!(
                "{}: {queued} events wait to be stored; the call was not forwarded",
                self.kind()
            ),
            _ => format!("{}: {}", self.kind(), self.detail()),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_reasons_never_reach_the_detail() {
        let refusal = Refusal::Internal {
            reason: "sqlite: disk I/O error at /var/lib/x".to_owned(),
        };
        assert!(!refusal.detail().contains("sqlite"));
        assert!(refusal.reason().contains("sqlite"));
        let refusal = Refusal::UpstreamUnavailable {
            reason: "connect 10.0.0.7:9000 refused".to_owned(),
        };
        assert!(!refusal.detail().contains("10.0.0.7"));
    }

    #[test]
    fn problem_types_are_stable_urns() {
        assert_eq!(
            Refusal::PolicyDenied.problem_type(),
            "urn:gatehouse:problem:policy-denied"
        );
    }
}
