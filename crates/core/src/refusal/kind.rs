//! The refusal kinds as a closed set: the last segment of a problem `type`, an event's
//! `refusal`, a metric label. Every [`Refusal`](super::Refusal) has one, and two more
//! name what only events record: a response cut at its size limit after the call was
//! allowed, and a policy set refused when it was reloaded.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! refusal_kinds {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// Why a call (or a reload) was refused, by name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum RefusalKind {
            $($(#[$doc])* #[serde(rename = $text)] $variant,)*
        }

        impl RefusalKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The stable text form (`policy-denied`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

refusal_kinds! {
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

/// A refusal kind's text that names none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown refusal kind `{0}`")]
pub struct UnknownRefusalKind(pub String);

impl FromStr for RefusalKind {
    type Err = UnknownRefusalKind;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownRefusalKind(text.to_owned()))
    }
}

impl fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
