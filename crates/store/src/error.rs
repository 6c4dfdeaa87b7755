//! Errors of every store backend. They name where the store lives (a file path, or a
//! database address without credentials) but never the backend's own error types, so
//! callers handle all backends alike.

use gatehouse_core::ids::DecisionId;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot answer now: I/O failure, locked, out of space, not a database or
    /// corrupt. Readiness fails; retrying later may succeed.
    #[error("store `{location}` is unavailable: {detail}")]
    Unavailable { location: String, detail: String },
    /// A write collides with stored data: an event with this id already exists.
    #[error("event `{id}` already exists in store `{location}`")]
    Conflict { location: String, id: DecisionId },
    /// The database file is empty or fails its integrity check: refused, never repaired
    /// or replaced silently (an empty store would forget every revocation).
    #[error("store `{location}` is damaged: {detail}")]
    Damaged { location: String, detail: String },
    /// The database was written by a newer Gatehouse; this one refuses to touch it.
    #[error(
        "store `{location}` has schema version {found}, newer than version {known} known to \
         this gatehouse; upgrade gatehouse or point it at another database"
    )]
    NewerSchema {
        location: String,
        found: i64,
        known: i64,
    },
}

impl StoreError {
    /// Whether this error means the store cannot answer (as opposed to refusing one
    /// request it did understand).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::NewerSchema { .. } | Self::Damaged { .. }
        )
    }
}
