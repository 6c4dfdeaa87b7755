//! Which surface of Gatehouse an event comes from: a closed set, written as its lowercase
//! name in events, queries and the CLI.

use crate::closed_set::closed_set;

closed_set! {
    /// The surface an event comes from.
    pub enum EventKind, error UnknownEventKind, "event kind";
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
