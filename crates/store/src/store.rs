//! The storage interface every backend implements, and the rules of it that are the
//! same for all backends (query limits).

use gatehouse_core::approval::Approval;
use gatehouse_core::event::{Event, EventFilter, EventLine};
use gatehouse_core::ids::DecisionId;
use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::Workflow;

use crate::approval::ApprovalFilter;
use crate::error::StoreError;
use crate::revocation::{Revocation, RevocationKind};
use crate::workflow::WorkflowFilter;

/// Rows (events, workflows, approvals) returned by a query that names no limit.
pub const DEFAULT_LIMIT: u32 = 100;

/// The most rows one query returns, whatever limit it names.
pub const MAX_LIMIT: u32 = 1000;

/// Durable state of Gatehouse: the event log, the single-use assertion ids, workflows,
/// revocations, and confirmations and approvals.
///
/// Budget limits and usage are stored as signed 64-bit integers, so they can be queried
/// and compared in the database: a value above `i64::MAX` is stored, and read back, as
/// `i64::MAX` (still "unlimited" for any budget).
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Appends events atomically, in one transaction, each with its JSON line (which
    /// the store may keep as the event's record). Ids are unique: a batch holding an id
    /// already stored, or the same id twice, is refused with [`StoreError::Conflict`] and
    /// nothing of it is written.
    fn append_lines(&self, lines: &[EventLine<'_>]) -> Result<(), StoreError>;

    /// [`Store::append_lines`] for events not encoded yet.
    fn append_events(&self, events: &[Event]) -> Result<(), StoreError> {
        self.append_lines(&EventLine::all(events))
    }

    /// Events matching every field of `filter`, newest first, at most
    /// [`effective_limit`] of them.
    ///
    /// Without `after`, these are the newest matching events. With `after`, they are the
    /// oldest matching events with a greater id (still returned newest first), so that
    /// paging forward with `after` = the greatest id of the previous page misses nothing.
    fn query_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError>;

    /// One event by id.
    fn event(&self, id: DecisionId) -> Result<Option<Event>, StoreError>;

    /// Retention: deletes events older than `cutoff_ms` (Unix milliseconds), a bounded
    /// number per call, and returns how many went (0 once none is left). A store may
    /// keep an event a little past the cutoff (one written in the same batch as a newer
    /// one), never delete one at or after it.
    fn delete_events_before(&self, cutoff_ms: i64) -> Result<u64, StoreError>;

    /// Claims the single-use assertion id `jti` of `issuer`, remembered until
    /// `expires_at` (Unix seconds: the last moment the assertion could still be accepted,
    /// leeway included). Returns `Ok(true)` if it was fresh, `Ok(false)` if it was claimed
    /// before and that claim has not expired by `now_secs`. Claims expired before
    /// `now_secs` are deleted from time to time.
    fn claim_jti(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
        now_secs: i64,
    ) -> Result<bool, StoreError>;

    /// Inserts the workflow, or replaces every field of the one with its id (status,
    /// usage and budget change over its life).
    fn put_workflow(&self, workflow: &Workflow) -> Result<(), StoreError>;

    /// Inserts the workflow only if none with its id exists, and returns the stored one:
    /// `workflow` itself, or the one that was there. Two concurrent calls with the same
    /// id (two first token exchanges naming one workflow) get the same answer.
    fn create_workflow(&self, workflow: &Workflow) -> Result<Workflow, StoreError>;

    /// One workflow by id.
    fn workflow(&self, id: &WorkflowId) -> Result<Option<Workflow>, StoreError>;

    /// Workflows matching every field of `filter`, newest first (by `created_at`, then by
    /// id, both descending), at most [`WorkflowFilter::effective_limit`] of them.
    fn list_workflows(&self, filter: &WorkflowFilter) -> Result<Vec<Workflow>, StoreError>;

    /// Records a revocation, replacing the one with the same kind and subject.
    fn put_revocation(&self, revocation: &Revocation) -> Result<(), StoreError>;

    /// Removes a revocation (reinstating an agent, say); returns whether it was stored.
    fn delete_revocation(&self, kind: RevocationKind, subject: &str) -> Result<bool, StoreError>;

    /// Every revocation that still matters at `now_secs`, newest first (by `at_ms`, then
    /// kind and subject). Token revocations spent by then ([`Revocation::is_spent`]) are
    /// left out and deleted; workflow and agent revocations stay until deleted.
    fn revocations(&self, now_secs: i64) -> Result<Vec<Revocation>, StoreError>;

    /// Inserts the approval, or replaces every field of the one with its id (status,
    /// verdicts and response change over its life). Bodies are bytes and come back
    /// exactly as written, whatever they contain.
    fn put_approval(&self, approval: &Approval) -> Result<(), StoreError>;

    /// One approval by id.
    fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError>;

    /// Approvals matching every field of `filter`, newest first (by `created_at`, then by
    /// id, both descending), at most [`ApprovalFilter::effective_limit`] of them.
    fn list_approvals(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>, StoreError>;

    /// Readiness: a cheap query proving the store answers.
    fn ping(&self) -> Result<(), StoreError>;
}

/// How many events a query with this filter returns at most: its `limit`, or
/// [`DEFAULT_LIMIT`], capped at [`MAX_LIMIT`].
pub fn effective_limit(filter: &EventFilter) -> u32 {
    capped_limit(filter.limit)
}

/// A query's `limit`, or [`DEFAULT_LIMIT`], capped at [`MAX_LIMIT`].
pub(crate) fn capped_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_is_capped() {
        let with = |limit| EventFilter {
            limit,
            ..EventFilter::default()
        };
        assert_eq!(effective_limit(&with(None)), DEFAULT_LIMIT);
        assert_eq!(effective_limit(&with(Some(7))), 7);
        assert_eq!(effective_limit(&with(Some(5000))), MAX_LIMIT);
    }
}
