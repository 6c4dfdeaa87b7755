//! Store calls off the async workers: the store is synchronous (SQLite), so every call
//! from a request or a background task runs on tokio's blocking pool.

use gatehouse_store::StoreError;

/// Runs `call` on the blocking pool; a panicked call reads as an unavailable store. The
/// PostgreSQL store is told it is off the async workers, so it works in place rather
/// than on a thread of its own.
pub(crate) async fn store_call<T: Send + 'static>(
    what: &'static str,
    call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(|| gatehouse_store::off_async_workers(call))
        .await
        .map_err(|error| StoreError::Unavailable {
            location: what.to_owned(),
            detail: error.to_string(),
        })?
}
