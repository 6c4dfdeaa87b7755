//! The gateway's background upkeep, one task beside the listeners.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::state::State;

/// How often changed workflow state is written to the store.
const WORKFLOW_FLUSH: Duration = Duration::from_millis(200);
/// How often keys and revocations are tidied.
const HOUSEKEEPING: Duration = Duration::from_secs(5);
/// How often the store's write-ahead log is checkpointed and truncated.
const CHECKPOINT: Duration = Duration::from_secs(60);

/// Background upkeep: writes changed workflows behind, re-reads upstream secrets,
/// retires old segment keys, forgets revocations of expired credentials and closes
/// upstream connections idle too long.
pub(super) async fn maintain(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let mut flush = tokio::time::interval(WORKFLOW_FLUSH);
    let mut reload = tokio::time::interval(state.config.gateway.secrets_reload);
    let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
    let mut retention = tokio::time::interval(crate::retention::EVERY);
    let mut checkpoint = tokio::time::interval(CHECKPOINT);
    let mut baseline_flush = tokio::time::interval(state.config.baseline.flush);
    let mut relearn = tokio::time::interval(state.config.baseline.relearn);
    relearn.reset(); // learned at start already
    loop {
        tokio::select! {
            _ = baseline_flush.tick() => {
                if let Err(error) = state.baselines.flush().await {
                    tracing::error!(%error, "cannot add baseline counts to the store; will retry");
                }
            }
            _ = relearn.tick() => {
                if let Err(error) = state.baselines.learn(state.clock.now().millis()).await {
                    tracing::error!(%error, "cannot learn baselines again; keeping the last");
                }
            }
            _ = checkpoint.tick() => checkpoint_store(&state).await,
            _ = retention.tick() => {
                crate::retention::prune(&state).await;
            }
            _ = flush.tick() => {
                if let Err(error) = state.workflows.flush().await {
                    tracing::error!(%error, "cannot write workflow state; will retry");
                }
                state.events.rotate_journal(false);
            }
            _ = reload.tick() => state.secrets.reload(&state.config),
            _ = housekeeping.tick() => {
                let now = state.clock.now().secs();
                state.events.rotate_journal(true);
                state.keys.retire_due(now);
                state.revocations.forget_expired(now);
                let ended = state.quarantines.take_ended(state.clock.now().millis());
                crate::control::quarantines::record_ended(&state, &ended);
                state.upstream.close_expired();
                let now_ms = state.clock.now().millis();
                if let Some(summary) = state.anonymous.due(now_ms) {
                    let id = state.next_id();
                    state.events.emit(crate::anonymous::summary_event(id, summary, now_ms));
                }
                match state.approvals.expire_due(now).await {
                    Ok(expired) => crate::audit::record_settled(&state, &expired, "approval.expire"),
                    Err(error) => tracing::error!(%error, "cannot expire approvals; will retry"),
                }
            }
            _ = stop.changed() => break,
        }
    }
}

/// Truncates the store's write-ahead log, off the async workers.
async fn checkpoint_store(state: &State) {
    let store = Arc::clone(&state.store);
    match tokio::task::spawn_blocking(move || store.checkpoint()).await {
        Ok(Ok(bytes)) if bytes > 64 * 1024 * 1024 => {
            tracing::info!(bytes, "checkpointed a large write-ahead log");
        }
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::warn!(%error, "cannot checkpoint the store; will retry"),
        Err(error) => tracing::error!(%error, "store checkpoint failed"),
    }
}
