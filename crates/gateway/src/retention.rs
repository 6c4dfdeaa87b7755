//! Event retention (`[gateway] event_retention_days`): events older than that are
//! deleted from the store, hourly, off the request path. Absent, every event is kept.

use std::sync::Arc;
use std::time::Duration;

use crate::state::State;

/// How often old events are looked for.
pub(crate) const EVERY: Duration = Duration::from_secs(3600);

/// Deletes every event older than the retention period; returns how many went.
pub async fn prune(state: &Arc<State>) -> u64 {
    let Some(keep) = state.config.gateway.event_retention else {
        return 0;
    };
    let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
    let cutoff_ms = state.clock.now().millis().saturating_sub(keep_ms);
    let store = Arc::clone(&state.store);
    let deleted = tokio::task::spawn_blocking(move || {
        let mut total: u64 = 0;
        // The store deletes a bounded number per call, so writers wait briefly each time.
        loop {
            match store.delete_events_before(cutoff_ms) {
                Ok(0) => return Ok(total),
                Ok(deleted) => total = total.saturating_add(deleted),
                Err(error) => return Err((total, error)),
            }
        }
    })
    .await;
    match deleted {
        Ok(Ok(total)) => {
            if total > 0 {
                tracing::info!(deleted = total, cutoff_ms, "deleted events past retention");
            }
            total
        }
        Ok(Err((total, error))) => {
            tracing::error!(%error, deleted = total, "cannot delete events past retention; will retry");
            total
        }
        Err(error) => {
            tracing::error!(%error, "event retention task failed; will retry");
            0
        }
    }
}
