//! Policy sets across replicas (ARCHITECTURE.md, "State and events"): a set put in force
//! here by `policy apply` or the watcher is shared through the store, files and all, and
//! every other replica on it puts the same set in force when the store announces it, or
//! when it reads again after its feed was lost. A replica starts on its own files and
//! follows only sets shared after that; the embedded store shares nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use gatehouse_core::config::PolicyFile;
use gatehouse_core::event::{Event, EventKind, Outcome};
use gatehouse_core::model::{Intent, PolicySetVersion};
use gatehouse_core::refusal::RefusalKind;
use gatehouse_store::{PolicySet, PolicySetFile, SharedPolicySet, StoreError};

use super::build;
use crate::blocking::store_call;
use crate::state::State;

/// Shares the set of `files` (version `version`), just put in force by `by`, with the
/// other replicas. Nothing happens on a store no other replica shares.
pub(super) async fn share(
    state: &State,
    version: &str,
    files: &[PolicyFile],
    by: &str,
) -> Result<(), StoreError> {
    if !state.store.is_shared() {
        return Ok(());
    }
    let set = PolicySet {
        version: version.to_owned(),
        shared_at_ms: state.clock.now().millis(),
        by: by.to_owned(),
        files: files
            .iter()
            .map(|file| PolicySetFile {
                path: file.path.to_string_lossy().into_owned(),
                text: file.text.clone(),
            })
            .collect(),
    };
    let store = Arc::clone(&state.store);
    store_call("policy sets", move || store.share_policy_set(&set)).await
}

/// Marks every set shared so far as seen, at start-up: the replica runs its own files
/// and follows only what is shared after.
pub async fn mark_shared_seen(state: &State) -> Result<(), StoreError> {
    if let Some(shared) = newest(state).await? {
        state.policy.see_shared(shared.seq);
    }
    Ok(())
}

/// Puts the newest shared set in force, unless this replica has seen it already (its
/// own share, or one it followed). A set that does not build here (the replicas'
/// configurations differ) is refused with an event, and the set in force stays.
pub async fn follow(state: &Arc<State>) {
    // Read under the lock, so a set this replica shares meanwhile cannot be overtaken by
    // an older one read before it.
    let _one_at_a_time = state.policy.reloading().await;
    let started = Instant::now();
    let shared = match newest(state).await {
        Ok(Some(shared)) => shared,
        Ok(None) => return,
        Err(error) => {
            tracing::error!(%error, "cannot read the policy set another replica shared");
            return;
        }
    };
    if !state.policy.see_shared(shared.seq) || *state.policy.version() == *shared.set.version {
        return;
    }
    let SharedPolicySet { seq, set } = shared;
    let files = set
        .files
        .into_iter()
        .map(|file| PolicyFile {
            path: PathBuf::from(file.path),
            text: file.text,
        })
        .collect();
    let read_ms = started.elapsed().as_millis();
    match build(state, files).await {
        Ok(engine) => {
            let version = Arc::clone(engine.version());
            let build_ms = started.elapsed().as_millis() - read_ms;
            state.policy.swap(engine);
            // On one clock (replicas on one machine) this is the propagation itself.
            let since_shared_ms = state.clock.now().millis() - set.shared_at_ms;
            tracing::info!(
                %version, by = %set.by, read_ms, build_ms, since_shared_ms,
                "policy set in force, as shared by another replica"
            );
            state
                .events
                .emit(event(state, seq, &set.by, &version, None));
        }
        Err(errors) => {
            let current = state.policy.version();
            let reason = format!(
                "policy set `{}` shared by another replica does not build here, so `{current}` stays:\n{errors}",
                set.version
            );
            tracing::error!(%reason, "policy set not followed");
            state
                .events
                .emit(event(state, seq, &set.by, &current, Some(reason)));
        }
    }
}

async fn newest(state: &State) -> Result<Option<SharedPolicySet>, StoreError> {
    let store = Arc::clone(&state.store);
    store_call("policy sets", move || store.newest_policy_set()).await
}

/// The event of following a shared set: the version now in force, or why not.
fn event(state: &State, seq: i64, by: &str, version: &Arc<str>, refusal: Option<String>) -> Event {
    let now = state.clock.now();
    let mut event = Event {
        method: "FOLLOW".to_owned(),
        path: format!("policy_sets/{seq}"),
        ..Event::blank(state.next_id_at(now), now.millis(), EventKind::Policy)
    };
    event.intent = Some(Intent::new("policy.reload"));
    event.actor = Some(by.into());
    event.policy_version = Some(PolicySetVersion::new(Arc::clone(version)));
    match refusal {
        None => {
            event.outcome = Outcome::Allow;
            event.status = 200;
            event.reason = Some("put in force on another replica".to_owned());
        }
        Some(reason) => {
            event.refusal = Some(RefusalKind::InvalidPolicy);
            event.status = 422;
            event.reason = Some(reason);
        }
    }
    event
}
