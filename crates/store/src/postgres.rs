//! The shared store for several replicas: one PostgreSQL database (ARCHITECTURE.md, "State and events").
//!
//! The gateway calls the store from its own blocking threads, so this backend uses the
//! synchronous `postgres` client over a small pool of connections. A connection that
//! fails is dropped and replaced on next use, so a restarted database is picked up
//! without restarting Gatehouse. Every statement names its columns; documents that are
//! only ever read whole (a workflow, an approval) are kept as JSON beside the columns
//! that queries filter and sort on.

mod approvals;
mod baselines;
mod budgets;
mod chain;
mod claims;
mod events;
mod listen;
mod migrate;
mod outbox;
mod policy_sets;
mod policy_versions;
mod pool;
mod quarantines;
mod recordings;
mod revocations;
mod workflows;

use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gatehouse_core::approval::Approval;
use gatehouse_core::baseline::{HourCount, Window};
use gatehouse_core::event::{Event, EventFilter, EventLine};
use gatehouse_core::ids::{ApprovalId, DecisionId};
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
use crate::store::{ChangeHandler, Store};
use crate::workflow::WorkflowFilter;
use pool::Pool;
pub use pool::off_async_workers;

/// Connections kept open to the database: enough for the event writer, the workflow
/// flusher and a few control-plane reads at once.
const CONNECTIONS: usize = 4;

/// A [`Store`] in one PostgreSQL database, shared by every replica that names it.
#[derive(Debug)]
pub struct PostgresStore {
    pool: Pool,
    /// Set when the store is dropped: listener threads then end.
    stopped: Arc<AtomicBool>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Release);
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`, or a key=value
    /// connection string) and brings its schema up to date. Replicas starting together
    /// migrate one at a time. Refuses a database written by a newer Gatehouse.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let pool = Pool::new(url, CONNECTIONS)?;
        pool.with(migrate::run)
            .map_err(|error| error.at(pool.location()))?;
        Ok(Self {
            pool,
            stopped: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Where the store lives, without credentials: for messages.
    pub fn location(&self) -> &str {
        self.pool.location()
    }

    /// Runs `work` on a pooled connection, naming the store in its error.
    fn run<T: Send>(
        &self,
        work: impl FnOnce(&mut postgres::Client) -> Result<T, Failure> + Send,
    ) -> Result<T, StoreError> {
        self.pool
            .with(work)
            .map_err(|error| error.at(self.pool.location()))
    }
}

impl Store for PostgresStore {
    fn append_lines(&self, lines: &[EventLine<'_>]) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        self.run(|client| events::insert(client, lines))
    }

    fn query_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        self.run(|client| events::select(client, filter))
    }

    fn delete_events_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        self.run(|client| chain::delete_before(client, cutoff_ms))
    }

    fn event(&self, id: DecisionId) -> Result<Option<Event>, StoreError> {
        self.run(|client| events::one(client, id))
    }

    fn call_counts(&self, query: &RateQuery) -> Result<Vec<CallCount>, StoreError> {
        self.run(|client| events::call_counts(client, query))
    }

    fn claim_jti(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
        now_secs: i64,
    ) -> Result<bool, StoreError> {
        self.run(|client| claims::claim(client, issuer, jti, expires_at, now_secs))
    }

    fn admit(&self, admissions: &[Admission], now_secs: i64) -> Result<Vec<Admitted>, StoreError> {
        self.run(|client| claims::admit(client, admissions, now_secs))
    }

    fn put_workflow(&self, workflow: &Workflow) -> Result<(), StoreError> {
        self.run(|client| workflows::put(client, workflow))
    }

    fn create_workflow(&self, workflow: &Workflow) -> Result<Workflow, StoreError> {
        self.run(|client| workflows::create(client, workflow))
    }

    fn put_lease(&self, id: &WorkflowId, lease: Usage) -> Result<(), StoreError> {
        self.run(|client| workflows::lease(client, id, lease))
    }

    /// Releases every replica's leases, as the contract says. On a shared store another
    /// replica may still hold unwritten usage under its lease: a clean shutdown of one
    /// replica then lets a later crash of another forget up to one slice.
    fn release_leases(&self) -> Result<(), StoreError> {
        self.run(workflows::release)
    }

    fn workflow(&self, id: &WorkflowId) -> Result<Option<Workflow>, StoreError> {
        self.run(|client| workflows::one(client, id))
    }

    fn list_workflows(&self, filter: &WorkflowFilter) -> Result<Vec<Workflow>, StoreError> {
        self.run(|client| workflows::select(client, filter))
    }

    fn put_revocation(&self, revocation: &Revocation) -> Result<(), StoreError> {
        self.run(|client| revocations::put(client, revocation))
    }

    fn delete_revocation(&self, kind: RevocationKind, subject: &str) -> Result<bool, StoreError> {
        self.run(|client| revocations::delete(client, kind, subject))
    }

    fn revocations(&self, now_secs: i64) -> Result<Vec<Revocation>, StoreError> {
        self.run(|client| revocations::live(client, now_secs))
    }

    fn put_approval(&self, approval: &Approval) -> Result<(), StoreError> {
        self.run(|client| approvals::put(client, approval))
    }

    fn replace_approval(&self, current: &Approval, next: &Approval) -> Result<bool, StoreError> {
        self.run(|client| approvals::replace(client, current, next))
    }

    fn approval(&self, id: &ApprovalId) -> Result<Option<Approval>, StoreError> {
        self.run(|client| approvals::one(client, id))
    }

    fn list_approvals(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>, StoreError> {
        self.run(|client| approvals::select(client, filter))
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.run(|client| {
            client.query_one("SELECT count(*) FROM schema_version", &[])?;
            Ok(())
        })
    }

    fn verify_chain(&self, since_ms: Option<i64>) -> Result<ChainCheck, StoreError> {
        self.run(|client| chain::verify(client, since_ms))
    }

    fn put_quarantine(&self, quarantine: &Quarantine) -> Result<(), StoreError> {
        self.run(|client| quarantines::put(client, quarantine))
    }

    fn delete_quarantine(&self, id: &str) -> Result<bool, StoreError> {
        self.run(|client| quarantines::delete(client, id))
    }

    fn quarantines(&self, now_ms: i64) -> Result<Vec<Quarantine>, StoreError> {
        self.run(|client| quarantines::live(client, now_ms))
    }

    fn put_recording(&self, recording: &Recording) -> Result<(), StoreError> {
        self.run(|client| recordings::put(client, recording))
    }

    fn recording(&self, id: &str) -> Result<Option<Recording>, StoreError> {
        self.run(|client| recordings::one(client, id))
    }

    fn recordings(&self, agent: Option<&str>, limit: u32) -> Result<Vec<Recording>, StoreError> {
        let limit = crate::store::capped_limit(Some(limit));
        self.run(|client| recordings::list(client, agent, limit))
    }

    fn events_after(
        &self,
        after: Option<Position>,
        limit: u32,
    ) -> Result<Vec<StoredLine>, StoreError> {
        self.run(|client| outbox::after(client, after, limit))
    }

    fn count_after(&self, after: Option<Position>) -> Result<u64, StoreError> {
        self.run(|client| outbox::count_after(client, after))
    }

    fn head_position(&self) -> Result<Option<Position>, StoreError> {
        self.run(outbox::head)
    }

    fn sink_cursor(&self, sink: &str) -> Result<Option<Position>, StoreError> {
        self.run(|client| outbox::cursor(client, sink))
    }

    fn put_sink_cursor(&self, sink: &str, position: Position) -> Result<(), StoreError> {
        self.run(|client| outbox::put_cursor(client, sink, position))
    }

    fn subscribe(&self, handler: ChangeHandler) -> Result<bool, StoreError> {
        listen::spawn(
            self.pool.config().clone(),
            handler,
            Arc::clone(&self.stopped),
        )
        .map_err(|error| StoreError::Unavailable {
            location: self.location().to_owned(),
            detail: format!("cannot start the change listener: {error}"),
        })?;
        Ok(true)
    }

    fn add_hour_counts(&self, counts: &[HourCount]) -> Result<(), StoreError> {
        self.run(|client| baselines::add(client, counts))
    }

    fn hour_counts(
        &self,
        agent: Option<&str>,
        window: Window,
    ) -> Result<Vec<HourCount>, StoreError> {
        self.run(|client| baselines::list(client, agent, window))
    }

    fn record_policy_version(&self, version: &PolicyVersion) -> Result<(), StoreError> {
        self.run(|client| policy_versions::put(client, version))
    }

    fn policy_versions(&self, limit: u32) -> Result<Vec<PolicyVersion>, StoreError> {
        let limit = crate::store::capped_limit(Some(limit));
        self.run(|client| policy_versions::newest(client, limit))
    }

    fn share_policy_set(&self, set: &PolicySet) -> Result<(), StoreError> {
        self.run(|client| policy_sets::share(client, set))
    }

    fn newest_policy_set(&self) -> Result<Option<SharedPolicySet>, StoreError> {
        self.run(policy_sets::newest)
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn claim_budget(&self, id: &WorkflowId, ask: Ask) -> Result<Claim, StoreError> {
        self.run(|client| budgets::claim(client, id, ask))
    }

    fn settle_budget(&self, id: &WorkflowId, unspent: Usage) -> Result<(), StoreError> {
        self.run(|client| budgets::settle(client, id, unspent))
    }

    fn extend_budget(&self, id: &WorkflowId, extension: Budget) -> Result<(), StoreError> {
        self.run(|client| budgets::extend(client, id, extension))
    }
}

/// Why one operation failed, before the store's location is attached.
#[derive(Debug)]
enum Failure {
    /// The database said no, or could not be reached.
    Database(postgres::Error),
    /// A stored value this Gatehouse cannot read.
    Invalid(String),
    /// An event id that is already stored (or twice in one batch).
    Conflict(DecisionId),
    /// The schema is newer than this Gatehouse knows.
    NewerSchema { found: i64, known: i64 },
}

impl Failure {
    fn invalid(what: impl Display) -> Self {
        Self::Invalid(what.to_string())
    }

    fn at(self, location: &str) -> StoreError {
        let location = location.to_owned();
        match self {
            Self::Database(error) => StoreError::Unavailable {
                location,
                detail: database_detail(&error),
            },
            Self::Invalid(detail) => StoreError::Unavailable { location, detail },
            Self::Conflict(id) => StoreError::Conflict { location, id },
            Self::NewerSchema { found, known } => StoreError::NewerSchema {
                location,
                found,
                known,
            },
        }
    }
}

impl From<postgres::Error> for Failure {
    fn from(error: postgres::Error) -> Self {
        Self::Database(error)
    }
}

/// The database's own message where it sent one (it names the constraint or column),
/// else the client's description of the failure.
fn database_detail(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    }
}

/// The serde name of a unit enum variant (`"pending"`), which is what columns store.
fn serde_name<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    match serde_json::to_value(value).map_err(Failure::invalid)? {
        serde_json::Value::String(name) => Ok(name),
        other => Err(Failure::invalid(format!("`{other}` is not a name"))),
    }
}
