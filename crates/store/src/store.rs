//! The storage interface every backend implements, and the rules of it that are the
//! same for all backends (query limits).

use gatehouse_core::approval::Approval;
use gatehouse_core::baseline::{AgentBaseline, HourCount, Window};
use gatehouse_core::event::{Event, EventFilter, EventLine};
use gatehouse_core::ids::ApprovalId;
use gatehouse_core::ids::DecisionId;
use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::{Ask, Budget, Claim, Usage, Workflow};

use crate::admission::{Admission, Admitted};
use crate::approval::ApprovalFilter;
use crate::chain::ChainCheck;
use crate::error::StoreError;
use crate::outbox::{Position, StoredLine};
use crate::policy_version::{PolicySet, PolicyVersion, SharedPolicySet};
use crate::quarantine::Quarantine;
use crate::rates::{CallCount, RateQuery};
use crate::recording::Recording;
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

    /// How many calls (events of kind `tool` or `mcp` naming an intent) the query's
    /// agent made in its window, per intent and bucket, ordered by intent then bucket;
    /// buckets without calls are left out.
    fn call_counts(&self, query: &RateQuery) -> Result<Vec<CallCount>, StoreError>;

    /// Recomputes the events' hash chain (`crate::chain`) in store order, from the
    /// first event or from the first block reaching `since_ms` (trusting the link
    /// before it), and names the first broken link.
    fn verify_chain(&self, since_ms: Option<i64>) -> Result<ChainCheck, StoreError>;
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

    /// Writes token exchanges' admissions together: each `jti` is claimed as
    /// [`Store::claim_jti`] claims it and, only when that claim is fresh, the admission's
    /// workflow is created as [`Store::create_workflow`] creates it. The answers are in
    /// the admissions' order; admissions later in the slice see the earlier ones' writes
    /// (one `jti` twice: the second is [`Admitted::Replayed`]). An error means nothing of
    /// the batch is known to be written: no answer was given, so no credential is issued
    /// on it, and a `jti` written after all stays claimed (refused, never used twice).
    ///
    /// This default makes one write per admission; the stores write a batch in one
    /// transaction, so a busy broker pays one commit per batch.
    fn admit(&self, admissions: &[Admission], now_secs: i64) -> Result<Vec<Admitted>, StoreError> {
        admissions
            .iter()
            .map(|admission| {
                let fresh = self.claim_jti(
                    &admission.issuer,
                    &admission.jti,
                    admission.expires_at,
                    now_secs,
                )?;
                if !fresh {
                    return Ok(Admitted::Replayed);
                }
                let workflow = admission.workflow.as_ref();
                Ok(Admitted::Fresh(
                    workflow.map(|w| self.create_workflow(w)).transpose()?,
                ))
            })
            .collect()
    }

    /// Inserts the workflow, or replaces every field of the one with its id (status,
    /// usage and budget change over its life).
    fn put_workflow(&self, workflow: &Workflow) -> Result<(), StoreError>;

    /// Inserts the workflow only if none with its id exists, and returns the stored one:
    /// `workflow` itself, or the one that was there. Two concurrent calls with the same
    /// id (two first token exchanges naming one workflow) get the same answer.
    fn create_workflow(&self, workflow: &Workflow) -> Result<Workflow, StoreError>;

    /// Raises the durable lease of workflow `id` to at least `lease` in each kind (a
    /// lease never shrinks here). Reads count usage as at least the lease.
    fn put_lease(&self, id: &WorkflowId, lease: Usage) -> Result<(), StoreError>;

    /// Drops every lease: for a clean shutdown, once every workflow's usage is written.
    fn release_leases(&self) -> Result<(), StoreError>;

    /// One workflow by id; its usage is at least its durable lease.
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

    /// Records a quarantine, replacing the one with its id.
    fn put_quarantine(&self, quarantine: &Quarantine) -> Result<(), StoreError>;

    /// Removes a quarantine (lifting it); returns whether it was stored.
    fn delete_quarantine(&self, id: &str) -> Result<bool, StoreError>;

    /// Every quarantine still holding at `now_ms`, newest first (by `at_ms`, then id);
    /// ended ones are left out and deleted.
    fn quarantines(&self, now_ms: i64) -> Result<Vec<Quarantine>, StoreError>;

    /// Inserts the approval, or replaces every field of the one with its id (status,
    /// verdicts and response change over its life). Bodies are bytes and come back
    /// exactly as written, whatever they contain.
    fn put_approval(&self, approval: &Approval) -> Result<(), StoreError>;

    /// Replaces the stored approval with `next` only if it is still exactly `current` (as
    /// the caller last read it), atomically: `Ok(false)` when another writer (another
    /// replica) changed or removed it since, so the caller reads again and retries. This
    /// is what keeps an approval's state machine exact when several replicas share a
    /// store: two approvers on two replicas cannot both move one approval.
    fn replace_approval(&self, current: &Approval, next: &Approval) -> Result<bool, StoreError>;

    /// One approval by id.
    fn approval(&self, id: &ApprovalId) -> Result<Option<Approval>, StoreError>;

    /// Approvals matching every field of `filter`, newest first (by `created_at`, then by
    /// id, both descending), at most [`ApprovalFilter::effective_limit`] of them.
    fn list_approvals(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>, StoreError>;

    /// Readiness: a cheap query proving the store answers.
    fn ping(&self) -> Result<(), StoreError>;

    /// Gives back space the store holds only for its own bookkeeping: the embedded store
    /// checkpoints its write-ahead log and truncates it, so the log cannot grow until it
    /// fills a small disk while readers keep automatic checkpoints from finishing. Returns
    /// the bytes the log held before (0 when the store keeps no such log).
    fn checkpoint(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Asks to be told, through `handler`, of changes other replicas make to state this
    /// one holds in memory. Returns whether this store can tell at all: the embedded
    /// store has a single writer, so it never has anything to tell and returns `false`.
    /// The handler runs on a thread of the store's; it must not block.
    fn subscribe(&self, handler: ChangeHandler) -> Result<bool, StoreError> {
        drop(handler);
        Ok(false)
    }

    /// Adds each count to the stored count of its agent, intent and hour (creating it):
    /// additive, so the flushes of several gateways add up. One transaction; an error
    /// means none of it is known to be written.
    fn add_hour_counts(&self, counts: &[HourCount]) -> Result<(), StoreError>;

    /// The stored counts of `agent` (of every agent when `None`) in `window`, ordered by
    /// agent, intent and hour.
    fn hour_counts(
        &self,
        agent: Option<&str>,
        window: Window,
    ) -> Result<Vec<HourCount>, StoreError>;

    /// What `agent` did over `window`, learned from its stored counts: per intent, the
    /// band of calls and bytes per hour of day, and the hours themselves.
    fn baseline(&self, agent: &str, window: Window) -> Result<AgentBaseline, StoreError> {
        let counts = self.hour_counts(Some(agent), window)?;
        Ok(AgentBaseline::learn(agent, window, &counts))
    }

    /// Records that a policy set went into force.
    fn record_policy_version(&self, version: &PolicyVersion) -> Result<(), StoreError>;

    /// The policy sets loaded, newest first, at most `limit` (capped at [`MAX_LIMIT`]).
    fn policy_versions(&self, limit: u32) -> Result<Vec<PolicyVersion>, StoreError>;

    /// Shares a policy set this gateway put in force with every other gateway on this
    /// store, and announces it ([`Change::Policy`]). The embedded store has no other
    /// gateway, so it keeps nothing and [`newest_policy_set`](Self::newest_policy_set)
    /// stays `None`.
    fn share_policy_set(&self, set: &PolicySet) -> Result<(), StoreError> {
        let _ = set;
        Ok(())
    }

    /// The policy set shared last, if any.
    fn newest_policy_set(&self) -> Result<Option<SharedPolicySet>, StoreError> {
        Ok(None)
    }
    /// Stores a forensic recording, replacing the one with its id.
    fn put_recording(&self, recording: &Recording) -> Result<(), StoreError>;

    /// One recording by its call's decision id.
    fn recording(&self, id: &str) -> Result<Option<Recording>, StoreError>;

    /// Recordings, of one agent or all, newest first (by `time_ms`, then id), at most
    /// `limit` (capped at [`MAX_LIMIT`]).
    fn recordings(&self, agent: Option<&str>, limit: u32) -> Result<Vec<Recording>, StoreError>;

    /// Up to `limit` stored events after `after` (from the first when `None`), in store
    /// order (block, then index in it), each with its line exactly as stored: what a
    /// sink or a live tail reads next. Positions deleted by retention are skipped over.
    fn events_after(
        &self,
        after: Option<Position>,
        limit: u32,
    ) -> Result<Vec<StoredLine>, StoreError>;

    /// How many events are stored after `after` (every event when `None`): a sink's lag.
    fn count_after(&self, after: Option<Position>) -> Result<u64, StoreError>;

    /// The position of the last stored event; `None` when the log is empty.
    fn head_position(&self) -> Result<Option<Position>, StoreError>;

    /// The cursor of sink `sink`: the position of the last event it delivered.
    fn sink_cursor(&self, sink: &str) -> Result<Option<Position>, StoreError>;

    /// Moves the cursor of sink `sink` to `position`, never backwards: a position at or
    /// before the stored one changes nothing.
    fn put_sink_cursor(&self, sink: &str, position: Position) -> Result<(), StoreError>;

    /// Whether several gateways share this store, so each must spend a workflow's budget
    /// from slices of its pool ([`claim_budget`](Self::claim_budget)) rather than count
    /// it alone. The embedded store has one gateway.
    fn is_shared(&self) -> bool {
        false
    }

    /// Reserves from the budget pool of workflow `id` what `ask` needs plus an adaptive
    /// slice (`gatehouse_core::workflow::Pool::claim`), atomically with respect to every
    /// other gateway on this store; the answer carries the pool as it is after. The pool
    /// is created by the first claim from the stored workflow (its budget as the limits,
    /// its usage as already reserved); a workflow not stored is an error. Reserved counts
    /// as spent until settled.
    fn claim_budget(&self, id: &WorkflowId, ask: Ask) -> Result<Claim, StoreError>;

    /// Returns to the pool of workflow `id` what a gateway reserved and did not spend
    /// (at a clean shutdown). Nothing happens when it has no pool.
    fn settle_budget(&self, id: &WorkflowId, unspent: Usage) -> Result<(), StoreError>;

    /// Raises the limits of the pool of workflow `id` by `extension` (a resume), and
    /// tells other gateways the workflow changed. Nothing is extended when it has no pool
    /// yet: its first claim reads the stored budget, which the resume wrote.
    fn extend_budget(&self, id: &WorkflowId, extension: Budget) -> Result<(), StoreError>;
}

/// What another replica changed, or what happened to the feed of such changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Revocations changed: read them again.
    Revocations,
    /// This revocation was written: it is said in the announcement itself, so a replica
    /// refuses what it covers at once, before it reads revocations again (as for
    /// [`Change::Revocations`], which stays the truth: a reinstatement is only read).
    Revoked {
        kind: RevocationKind,
        subject: String,
        /// For a credential, when it would have expired anyway (Unix seconds).
        expires_at: Option<i64>,
    },
    /// Quarantines changed: read them again.
    Quarantines,
    /// This workflow ended (or otherwise changed state) on another replica.
    Workflow(String),
    /// A policy set was shared: read the newest and put it in force.
    Policy,
    /// An approval changed (decided, run, expired): whoever waits on one reads it again.
    Approvals,
    /// Changes may have been missed (the feed reconnected): read everything again.
    Resync,
    /// The feed is live.
    Connected,
    /// The feed is lost (the reason); changes are not seen until it is back.
    Lost(String),
}

/// Receives [`Change`]s; see [`Store::subscribe`].
pub type ChangeHandler = Box<dyn Fn(Change) + Send + Sync + 'static>;

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
