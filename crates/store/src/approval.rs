//! Queries over stored confirmations and approvals (the records themselves are
//! [`gatehouse_core::approval::Approval`]).

use gatehouse_core::approval::{ApprovalStatus, Checkpoint};
use gatehouse_core::model::{AgentId, WorkflowId};
use serde::{Deserialize, Serialize};

use crate::store::capped_limit;

/// A query over stored approvals; every field set narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalFilter {
    /// Only approvals in this status.
    pub status: Option<ApprovalStatus>,
    /// Only approvals of calls made in this workflow.
    pub workflow: Option<WorkflowId>,
    /// Only approvals of calls made by this agent.
    pub agent: Option<AgentId>,
    /// Only confirmations, or only approvals.
    pub checkpoint: Option<Checkpoint>,
    /// At most this many ([`crate::DEFAULT_LIMIT`] if unset, never more than
    /// [`crate::MAX_LIMIT`]).
    pub limit: Option<u32>,
}

impl ApprovalFilter {
    /// How many approvals a query with this filter returns at most.
    pub fn effective_limit(&self) -> u32 {
        capped_limit(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DEFAULT_LIMIT, MAX_LIMIT};

    #[test]
    fn limit_defaults_and_is_capped() {
        let with = |limit| ApprovalFilter {
            limit,
            ..ApprovalFilter::default()
        };
        assert_eq!(with(None).effective_limit(), DEFAULT_LIMIT);
        assert_eq!(with(Some(3)).effective_limit(), 3);
        assert_eq!(with(Some(u32::MAX)).effective_limit(), MAX_LIMIT);
    }

    #[test]
    fn parses_from_json_with_lowercase_names_and_refuses_unknown_fields() {
        let filter: ApprovalFilter = serde_json::from_str(
            r#"{"status":"pending","checkpoint":"confirmation","workflow":"w","agent":"a"}"#,
        )
        .unwrap();
        assert_eq!(filter.status, Some(ApprovalStatus::Pending));
        assert_eq!(filter.checkpoint, Some(Checkpoint::Confirmation));
        assert_eq!(filter.workflow.as_deref(), Some("w"));
        assert_eq!(filter.agent.as_deref(), Some("a"));
        assert!(serde_json::from_str::<ApprovalFilter>(r#"{"stauts":"pending"}"#).is_err());
    }
}
