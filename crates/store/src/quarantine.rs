//! Quarantines (ARCHITECTURE.md, "The request path", contain): a temporary deny on one segment, tool,
//! intent or agent, with an expiry and a reason, that wins over every permit. The
//! gateway holds the live ones in memory; the store keeps them across restarts.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a quarantine covers; its subject is a segment, tool, intent or agent name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuarantineKind {
    Segment,
    Tool,
    Intent,
    Agent,
}

impl QuarantineKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [Self::Segment, Self::Tool, Self::Intent, Self::Agent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Segment => "segment",
            Self::Tool => "tool",
            Self::Intent => "intent",
            Self::Agent => "agent",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "segment" => Some(Self::Segment),
            "tool" => Some(Self::Tool),
            "intent" => Some(Self::Intent),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }
}

impl fmt::Display for QuarantineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One quarantine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantine {
    /// Unique, chosen by the gateway.
    pub id: String,
    pub kind: QuarantineKind,
    pub subject: String,
    pub reason: String,
    /// Who put it in place (an operator, a playbook).
    pub by: String,
    /// When it began, Unix milliseconds.
    pub at_ms: i64,
    /// When it ends by itself, Unix milliseconds (exclusive).
    pub until_ms: i64,
}

impl Quarantine {
    /// Whether it still holds at `now_ms`.
    pub fn is_live(&self, now_ms: i64) -> bool {
        now_ms < self.until_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_what_they_write() {
        for kind in QuarantineKind::ALL {
            assert_eq!(QuarantineKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
        }
        assert_eq!(QuarantineKind::parse("Tool"), None);
    }
}
