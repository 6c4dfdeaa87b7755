//! Queries over stored workflows (the records themselves are
//! [`gatehouse_core::workflow::Workflow`]).

use gatehouse_core::workflow::Status;
use serde::{Deserialize, Serialize};

use crate::store::capped_limit;

/// A query over stored workflows; every field set narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowFilter {
    /// Only workflows of this agent.
    pub agent: Option<String>,
    /// Only workflows in this status.
    pub status: Option<Status>,
    /// At most this many ([`crate::DEFAULT_LIMIT`] if unset, never more than
    /// [`crate::MAX_LIMIT`]).
    pub limit: Option<u32>,
}

impl WorkflowFilter {
    /// How many workflows a query with this filter returns at most.
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
        let with = |limit| WorkflowFilter {
            limit,
            ..WorkflowFilter::default()
        };
        assert_eq!(with(None).effective_limit(), DEFAULT_LIMIT);
        assert_eq!(with(Some(3)).effective_limit(), 3);
        assert_eq!(with(Some(u32::MAX)).effective_limit(), MAX_LIMIT);
    }

    #[test]
    fn parses_from_json_with_lowercase_status_and_refuses_unknown_fields() {
        let filter: WorkflowFilter =
            serde_json::from_str(r#"{"agent":"a","status":"paused"}"#).unwrap();
        assert_eq!(filter.status, Some(Status::Paused));
        assert_eq!(filter.agent.as_deref(), Some("a"));
        assert!(serde_json::from_str::<WorkflowFilter>(r#"{"agnet":"a"}"#).is_err());
    }
}
