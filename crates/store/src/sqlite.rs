//! The embedded store: one SQLite file under the data directory (ARCHITECTURE.md, "State and events").
//!
//! Writes go through one connection behind a mutex (SQLite admits one writer at a time
//! anyway); reads use a second connection, so in WAL mode a query never waits for an
//! append; a third, on a thread of its own, copies the write-ahead log back into the file
//! (`checkpointer`), so no writer waits behind a checkpoint. An in-memory store has a
//! single connection for everything, since a second connection would open another,
//! empty, database.

mod admissions;
mod approvals;
mod baselines;
mod budgets;
mod checkpointer;
mod claims;
mod column;
mod connect;
mod events;
mod immediate;
mod listing;
mod migrate;
mod outbox;
mod policy_versions;
mod quarantines;
mod recordings;
mod revocations;
mod workflows;

use std::fmt::Display;
use std::path::Path;
use std::sync::atomic::AtomicU32;
use std::sync::{Mutex, MutexGuard};

use gatehouse_core::approval::Approval;
use gatehouse_core::baseline::{HourCount, Window};
use gatehouse_core::event::{Event, EventFilter, EventLine};
use gatehouse_core::ids::{ApprovalId, DecisionId};
use gatehouse_core::model::WorkflowId;
use gatehouse_core::workflow::{Ask, Budget, Claim, Usage, Workflow};
use rusqlite::Connection;

use self::checkpointer::Checkpointer;

use crate::admission::{Admission, Admitted};
use crate::approval::ApprovalFilter;
use crate::chain::ChainCheck;
use crate::error::StoreError;
use crate::outbox::{Position, StoredLine};
use crate::policy_version::PolicyVersion;
use crate::quarantine::Quarantine;
use crate::rates::{CallCount, RateQuery};
use crate::recording::Recording;
use crate::revocation::{Revocation, RevocationKind};
use crate::store::Store;
use crate::workflow::WorkflowFilter;

/// The location named in errors of an in-memory store.
const IN_MEMORY: &str = ":memory:";

/// A [`Store`] in one SQLite database file (or in memory, for tests and demos).
#[derive(Debug)]
pub struct SqliteStore {
    /// The file path, for error messages.
    location: String,
    writer: Mutex<Connection>,
    /// `None` for an in-memory store, which reads through `writer`.
    reader: Option<Mutex<Connection>>,
    /// Claims since expired ones were last deleted.
    claims_since_sweep: AtomicU32,
    /// `None` for an in-memory store, which has no log. Last, so that it is dropped
    /// (joined) after the other connections are closed.
    _checkpointer: Option<Checkpointer>,
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`, creating its parent directory, and
    /// brings its schema up to date. Refuses a database written by a newer Gatehouse.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        connect::create_parent(path).or_unavailable(&location)?;
        let mut writer = connect::writer(path).or_unavailable(&location)?;
        migrate::run(&mut writer, &location)?;
        Self::assemble_file(location, path, writer)
    }

    /// Opens the database at `path`, which must exist: an empty (0-byte) file or one that
    /// fails SQLite's `quick_check` is refused as [`StoreError::Damaged`], so a damaged
    /// or truncated store never silently becomes an empty one.
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        let damaged = |detail: String| StoreError::Damaged {
            location: location.clone(),
            detail,
        };
        let size = std::fs::metadata(path)
            .map_err(|error| damaged(format!("cannot read the file: {error}")))?
            .len();
        if size == 0 {
            return Err(damaged("the file is empty (0 bytes)".to_owned()));
        }
        let mut writer = connect::writer(path).map_err(|error| damaged(error.to_string()))?;
        connect::quick_check(&writer).map_err(damaged)?;
        migrate::run(&mut writer, &location)?;
        Self::assemble_file(location, path, writer)
    }

    /// A fresh, empty database that lives as long as this value.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let location = IN_MEMORY.to_owned();
        let mut writer = connect::in_memory().or_unavailable(&location)?;
        migrate::run(&mut writer, &location)?;
        Ok(Self::assemble(location, writer, None, None))
    }

    /// A file store around its migrated writer: the reader, then the checkpoint thread.
    fn assemble_file(
        location: String,
        path: &Path,
        writer: Connection,
    ) -> Result<Self, StoreError> {
        let reader = connect::reader(path).or_unavailable(&location)?;
        let checkpointer = Checkpointer::start(path).or_unavailable(&location)?;
        Ok(Self::assemble(
            location,
            writer,
            Some(reader),
            Some(checkpointer),
        ))
    }

    fn assemble(
        location: String,
        writer: Connection,
        reader: Option<Connection>,
        checkpointer: Option<Checkpointer>,
    ) -> Self {
        Self {
            location,
            writer: Mutex::new(writer),
            reader: reader.map(Mutex::new),
            claims_since_sweep: AtomicU32::new(0),
            _checkpointer: checkpointer,
        }
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open (rusqlite rolls
        // back on drop), so the connection is still sound.
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        match &self.reader {
            Some(reader) => reader
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            None => self.writer(),
        }
    }
}

impl Store for SqliteStore {
    fn append_lines(&self, lines: &[EventLine<'_>]) -> Result<(), StoreError> {
        events::insert(&mut self.writer(), &self.location, lines)
    }

    fn query_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        events::select(&self.reader(), &self.location, filter)
    }

    fn event(&self, id: DecisionId) -> Result<Option<Event>, StoreError> {
        events::one(&self.reader(), &self.location, id)
    }

    fn call_counts(&self, query: &RateQuery) -> Result<Vec<CallCount>, StoreError> {
        events::call_counts(&self.reader(), &self.location, query)
    }

    fn verify_chain(&self, since_ms: Option<i64>) -> Result<ChainCheck, StoreError> {
        events::verify(&self.reader(), &self.location, since_ms)
    }

    fn delete_events_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        events::delete_before(&mut self.writer(), &self.location, cutoff_ms)
    }

    fn claim_jti(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
        now_secs: i64,
    ) -> Result<bool, StoreError> {
        let claim = claims::Claim {
            issuer,
            jti,
            expires_at,
        };
        let conn = self.writer();
        claims::sweep_now_and_then(&conn, &self.claims_since_sweep, now_secs)
            .or_unavailable(&self.location)?;
        claims::claim(&conn, &claim, now_secs).or_unavailable(&self.location)
    }

    fn admit(&self, admissions: &[Admission], now_secs: i64) -> Result<Vec<Admitted>, StoreError> {
        let mut conn = self.writer();
        admissions::admit(&mut conn, &self.claims_since_sweep, admissions, now_secs)
            .or_unavailable(&self.location)
    }

    fn put_workflow(&self, workflow: &Workflow) -> Result<(), StoreError> {
        workflows::put(&self.writer(), workflow).or_unavailable(&self.location)
    }

    fn create_workflow(&self, workflow: &Workflow) -> Result<Workflow, StoreError> {
        workflows::create(&self.writer(), workflow).or_unavailable(&self.location)
    }

    fn put_lease(&self, id: &WorkflowId, lease: Usage) -> Result<(), StoreError> {
        workflows::lease(&self.writer(), id, lease).or_unavailable(&self.location)
    }

    fn release_leases(&self) -> Result<(), StoreError> {
        workflows::release(&self.writer()).or_unavailable(&self.location)
    }

    fn workflow(&self, id: &WorkflowId) -> Result<Option<Workflow>, StoreError> {
        workflows::one(&self.reader(), id).or_unavailable(&self.location)
    }

    fn list_workflows(&self, filter: &WorkflowFilter) -> Result<Vec<Workflow>, StoreError> {
        workflows::select(&self.reader(), filter).or_unavailable(&self.location)
    }

    fn put_revocation(&self, revocation: &Revocation) -> Result<(), StoreError> {
        revocations::put(&self.writer(), revocation).or_unavailable(&self.location)
    }

    fn delete_revocation(&self, kind: RevocationKind, subject: &str) -> Result<bool, StoreError> {
        revocations::delete(&self.writer(), kind, subject).or_unavailable(&self.location)
    }

    fn revocations(&self, now_secs: i64) -> Result<Vec<Revocation>, StoreError> {
        revocations::live(&mut self.writer(), now_secs).or_unavailable(&self.location)
    }

    fn put_quarantine(&self, quarantine: &Quarantine) -> Result<(), StoreError> {
        quarantines::put(&self.writer(), quarantine).or_unavailable(&self.location)
    }

    fn delete_quarantine(&self, id: &str) -> Result<bool, StoreError> {
        quarantines::delete(&self.writer(), id).or_unavailable(&self.location)
    }

    fn quarantines(&self, now_ms: i64) -> Result<Vec<Quarantine>, StoreError> {
        quarantines::live(&mut self.writer(), now_ms).or_unavailable(&self.location)
    }

    fn put_recording(&self, recording: &Recording) -> Result<(), StoreError> {
        recordings::put(&self.writer(), recording).or_unavailable(&self.location)
    }

    fn recording(&self, id: &str) -> Result<Option<Recording>, StoreError> {
        recordings::one(&self.reader(), id).or_unavailable(&self.location)
    }

    fn recordings(&self, agent: Option<&str>, limit: u32) -> Result<Vec<Recording>, StoreError> {
        let limit = crate::store::capped_limit(Some(limit));
        recordings::list(&self.reader(), agent, limit).or_unavailable(&self.location)
    }

    fn put_approval(&self, approval: &Approval) -> Result<(), StoreError> {
        approvals::put(&self.writer(), approval).or_unavailable(&self.location)
    }

    fn replace_approval(&self, current: &Approval, next: &Approval) -> Result<bool, StoreError> {
        approvals::replace(&mut self.writer(), current, next).or_unavailable(&self.location)
    }

    fn claim_budget(&self, id: &WorkflowId, ask: Ask) -> Result<Claim, StoreError> {
        budgets::claim(&mut self.writer(), id, ask)
            .or_unavailable(&self.location)?
            .ok_or_else(|| StoreError::Unavailable {
                location: self.location.clone(),
                detail: format!("no stored workflow `{}` to reserve budget for", id.as_str()),
            })
    }

    fn settle_budget(&self, id: &WorkflowId, unspent: Usage) -> Result<(), StoreError> {
        budgets::settle(&mut self.writer(), id, unspent).or_unavailable(&self.location)
    }

    fn extend_budget(&self, id: &WorkflowId, extension: Budget) -> Result<(), StoreError> {
        budgets::extend(&mut self.writer(), id, extension).or_unavailable(&self.location)
    }

    fn approval(&self, id: &ApprovalId) -> Result<Option<Approval>, StoreError> {
        approvals::one(&self.reader(), id).or_unavailable(&self.location)
    }

    fn list_approvals(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>, StoreError> {
        approvals::select(&self.reader(), filter).or_unavailable(&self.location)
    }

    fn events_after(
        &self,
        after: Option<Position>,
        limit: u32,
    ) -> Result<Vec<StoredLine>, StoreError> {
        outbox::after(&self.reader(), after, limit).or_unavailable(&self.location)
    }

    fn count_after(&self, after: Option<Position>) -> Result<u64, StoreError> {
        outbox::count_after(&self.reader(), after).or_unavailable(&self.location)
    }

    fn head_position(&self) -> Result<Option<Position>, StoreError> {
        outbox::head(&self.reader()).or_unavailable(&self.location)
    }

    fn sink_cursor(&self, sink: &str) -> Result<Option<Position>, StoreError> {
        outbox::cursor(&self.reader(), sink).or_unavailable(&self.location)
    }

    fn put_sink_cursor(&self, sink: &str, position: Position) -> Result<(), StoreError> {
        outbox::put_cursor(&self.writer(), sink, position).or_unavailable(&self.location)
    }

    fn checkpoint(&self) -> Result<u64, StoreError> {
        let wal = format!("{}-wal", self.location);
        let before = std::fs::metadata(&wal).map_or(0, |meta| meta.len());
        self.writer()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .or_unavailable(&self.location)?;
        Ok(before)
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.reader()
            .prepare_cached("SELECT count(*) FROM schema_version")
            .and_then(|mut statement| statement.query_row([], |row| row.get::<_, i64>(0)))
            .map(drop)
            .or_unavailable(&self.location)
    }

    fn add_hour_counts(&self, counts: &[HourCount]) -> Result<(), StoreError> {
        baselines::add(&mut self.writer(), counts).or_unavailable(&self.location)
    }

    fn hour_counts(
        &self,
        agent: Option<&str>,
        window: Window,
    ) -> Result<Vec<HourCount>, StoreError> {
        baselines::list(&self.reader(), agent, window).or_unavailable(&self.location)
    }

    fn record_policy_version(&self, version: &PolicyVersion) -> Result<(), StoreError> {
        policy_versions::put(&self.writer(), version).or_unavailable(&self.location)
    }

    fn policy_versions(&self, limit: u32) -> Result<Vec<PolicyVersion>, StoreError> {
        let limit = crate::store::capped_limit(Some(limit));
        policy_versions::newest(&self.reader(), limit).or_unavailable(&self.location)
    }
}

/// Turns any failure of the database into [`StoreError::Unavailable`] at `location`.
trait OrUnavailable<T> {
    fn or_unavailable(self, location: &str) -> Result<T, StoreError>;
}

impl<T, E: Display> OrUnavailable<T> for Result<T, E> {
    fn or_unavailable(self, location: &str) -> Result<T, StoreError> {
        self.map_err(|error| unavailable(location, error))
    }
}

fn unavailable(location: &str, error: impl Display) -> StoreError {
    StoreError::Unavailable {
        location: location.to_owned(),
        detail: error.to_string(),
    }
}
