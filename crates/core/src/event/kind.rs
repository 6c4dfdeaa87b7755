//! Which surface of Gatehouse an event comes from: a closed set, written as its lowercase
//! name in events, queries and the CLI.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// The surface an event comes from.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum EventKind {
            $($(#[$doc])* #[serde(rename = $text)] $variant,)*
        }

        impl EventKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The text form (`tool`, `approval-poll`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

event_kinds! {
    /// An HTTP tool call on the data plane.
    Tool => "tool",
    /// The token endpoint (credential exchange).
    Token => "token",
    /// A message to the MCP face.
    Mcp => "mcp",
    /// A data-plane request refused before any face took it (no such door, or a replica
    /// that has not heard the others).
    Dataplane => "dataplane",
    /// An approved call Gatehouse ran itself.
    Approval => "approval",
    /// An agent asking whether its parked call was decided.
    ApprovalPoll => "approval-poll",
    /// The summary of sampled refusals of callers with no identity.
    Anonymous => "anonymous",
    /// Gatehouse about itself (refusals counted, not recorded, while the event queue was
    /// full).
    Gatehouse => "gatehouse",
    /// A policy set loaded, or refused, at reload.
    Policy => "policy",
    /// The configuration reloaded (the observe set).
    Config => "config",
    /// An operator's action on the control plane.
    Control => "control",
}

/// An event kind's text that names none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown event kind `{0}` (known: tool, token, mcp, dataplane, approval, approval-poll, anonymous, gatehouse, policy, config, control)"
)]
pub struct UnknownEventKind(pub String);

impl FromStr for EventKind {
    type Err = UnknownEventKind;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownEventKind(text.to_owned()))
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_text_and_its_json() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(*kind));
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), *kind);
        }
        let unknown = "Tool".parse::<EventKind>().unwrap_err();
        assert!(unknown.to_string().starts_with("unknown event kind `Tool`"));
    }
}
