//! Revocations (ARCHITECTURE.md, "Workflows, budgets, revocation"): of one credential, of a workflow (every credential it
//! holds), or of an agent (everything it holds, and no new ones). The gateway keeps
//! them in memory; the store keeps them across restarts.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a revocation covers; its subject is a token id, a workflow id or an agent id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevocationKind {
    /// One task credential, by its `jti`.
    Token,
    /// One workflow and every credential issued for it.
    Workflow,
    /// One agent: every credential it holds, and no new ones.
    Agent,
}

impl RevocationKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Token, Self::Workflow, Self::Agent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Workflow => "workflow",
            Self::Agent => "agent",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "token" => Some(Self::Token),
            "workflow" => Some(Self::Workflow),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }
}

impl fmt::Display for RevocationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One revocation. A store holds at most one per (`kind`, `subject`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub kind: RevocationKind,
    /// The token `jti`, workflow id or agent id.
    pub subject: String,
    /// When it was revoked, Unix milliseconds.
    pub at_ms: i64,
    /// Who revoked it (an operator, a playbook, `revocation of agent X`).
    pub by: String,
    pub reason: String,
    /// For tokens: the last moment (Unix seconds, leeway included) the credential could
    /// still be accepted anyway; after it the revocation is forgotten. Ignored for
    /// workflows and agents, whose revocations last until deleted.
    pub expires_at: Option<i64>,
}

impl Revocation {
    /// Whether this revocation no longer matters at `now_secs`: a token past its expiry.
    pub fn is_spent(&self, now_secs: i64) -> bool {
        self.kind == RevocationKind::Token && self.expires_at.is_some_and(|at| at < now_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_what_they_write() {
        for kind in RevocationKind::ALL {
            assert_eq!(RevocationKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
        }
        assert_eq!(RevocationKind::parse("Token"), None);
    }

    #[test]
    fn only_tokens_are_spent_and_only_after_their_expiry() {
        let token = Revocation {
            kind: RevocationKind::Token,
            subject: "jti-1".to_owned(),
            at_ms: 0,
            by: "op".to_owned(),
            reason: String::new(),
            expires_at: Some(100),
        };
        assert!(!token.is_spent(100));
        assert!(token.is_spent(101));
        let agent = Revocation {
            kind: RevocationKind::Agent,
            ..token.clone()
        };
        assert!(!agent.is_spent(101));
        let forever = Revocation {
            expires_at: None,
            ..token
        };
        assert!(!forever.is_spent(i64::MAX));
    }
}
