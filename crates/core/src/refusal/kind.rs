//! The refusal kinds as a closed set: the last segment of a problem `type`, an event's
//! `refusal`, a metric label. Every [`Refusal`](super::Refusal) has one, and two more
//! name what only events record: a response cut at its size limit after the call was
//! allowed, and a policy set refused when it was reloaded.

use crate::closed_set::closed_set;

closed_set! {
    /// Why a call (or a reload) was refused, by name.
    pub enum RefusalKind, error UnknownRefusalKind, "refusal kind";
    Unauthenticated => "unauthenticated",
    InvalidAssertion => "invalid-assertion",
    BadTokenRequest => "bad-token-request",
    TaskClassNotAllowed => "task-class-not-allowed",
    AmbiguousPath => "ambiguous-path",
    UnknownTool => "unknown-tool",
    NoRoute => "no-route",
    SegmentMismatch => "segment-mismatch",
    OutOfScope => "out-of-scope",
    PolicyDenied => "policy-denied",
    Quarantined => "quarantined",
    BudgetExhausted => "budget-exhausted",
    ConfirmationRequired => "confirmation-required",
    ConfirmationRejected => "confirmation-rejected",
    ApprovalDenied => "approval-denied",
    ApprovalExpired => "approval-expired",
    ApprovalCancelled => "approval-cancelled",
    ApprovalPending => "approval-pending",
    BadMessage => "bad-message",
    UnknownMethod => "unknown-method",
    SessionUnknown => "session-unknown",
    BadArguments => "bad-arguments",
    OriginRejected => "origin-rejected",
    UnsafeRequest => "unsafe-request",
    MalformedBody => "malformed-body",
    RateLimited => "rate-limited",
    TooManyPending => "too-many-pending",
    HeadersTooLarge => "headers-too-large",
    BodyTooLarge => "body-too-large",
    UpstreamUnavailable => "upstream-unavailable",
    UpstreamTimeout => "upstream-timeout",
    Internal => "internal",
    StaleState => "stale-state",
    Unrecordable => "unrecordable",
    ResponseClassExceeded => "response-class-exceeded",
    ResponseUnscannable => "response-unscannable",
    /// Events only: the tool's response was cut at the response size limit, after the
    /// call had been allowed (the agent got the bytes that fit).
    ResponseTooLarge => "response-too-large",
    /// Events only: a policy set was refused at reload; the one in force stays.
    InvalidPolicy => "invalid-policy",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_text_and_its_json() {
        for kind in RefusalKind::ALL {
            assert_eq!(kind.as_str().parse::<RefusalKind>(), Ok(*kind));
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<RefusalKind>(&json).unwrap(), *kind);
        }
        assert_eq!(
            "policy_denied".parse::<RefusalKind>(),
            Err(UnknownRefusalKind("policy_denied".to_owned()))
        );
    }
}
