//! Storage for Gatehouse: the [`Store`] interface through which the gateway records
//! events, claims single-use identity assertions, and keeps workflows, revocations and
//! approvals, and its embedded SQLite implementation, [`SqliteStore`] (ARCHITECTURE.md, "State and events").
//!
//! The store is synchronous; the gateway calls it from its own blocking threads. Every
//! implementation must pass the conformance suite in `tests/conformance.rs`, so SQL of one
//! database stays inside that database's module (`sqlite`), and the trait and its errors
//! know no database at all.

mod admission;
mod approval;
mod chain;
mod error;
mod outbox;
mod policy_version;
mod postgres;
mod quarantine;
mod rates;
mod recording;
mod revocation;
mod sqlite;
mod store;
mod workflow;

pub use admission::{Admission, Admitted};
pub use approval::ApprovalFilter;
pub use chain::{BreakKind, ChainBreak, ChainCheck, LINK_LEN};
pub use error::StoreError;
pub use outbox::{BadPosition, Position, StoredLine};
pub use policy_version::{PolicySet, PolicySetFile, PolicyVersion, SharedPolicySet};
pub use postgres::{PostgresStore, off_async_workers};
pub use quarantine::{Quarantine, QuarantineKind};
pub use rates::{CallCount, MAX_BUCKETS, RateQuery};
pub use recording::Recording;
pub use revocation::{Revocation, RevocationKind};
pub use sqlite::SqliteStore;
pub use store::{Change, ChangeHandler, DEFAULT_LIMIT, MAX_LIMIT, Store, effective_limit};
pub use workflow::WorkflowFilter;
