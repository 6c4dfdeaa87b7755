//! Loading the policy files again while the gateway runs: on a change the watcher sees,
//! and on an operator's `policy apply`. The new set is built and validated against the
//! running configuration (agents, tools, intents and schema stay those of start-up) on
//! a blocking thread, recorded in the store, and only then put in force. A set that fails
//! is refused with an event saying why, and the old one stays.

use std::sync::Arc;

use gatehouse_core::config::{Observed, PolicyFile, read_policy_dir};
use gatehouse_core::event::{Event, EventKind, Outcome};
use gatehouse_core::model::{Intent, PolicySetVersion};
use gatehouse_core::refusal::RefusalKind;
use gatehouse_policy::{PolicyEngine, version_of};
use gatehouse_store::{PolicyVersion, Store, StoreError};
use tokio::sync::watch;

use crate::blocking::store_call;
use crate::state::State;

mod shared;

pub use shared::{follow, mark_shared_seen};

/// Why a reload was asked for.
#[derive(Debug, Clone)]
pub enum Source {
    /// The watcher saw the files change.
    Watcher,
    /// An operator's `policy apply`, with their message.
    Apply {
        actor: String,
        message: Option<String>,
    },
}

impl Source {
    fn actor(&self) -> &str {
        match self {
            Self::Watcher => "gatehouse",
            Self::Apply { actor, .. } => actor,
        }
    }

    fn message(&self) -> Option<String> {
        match self {
            Self::Watcher => Some("policy files changed".to_owned()),
            Self::Apply { message, .. } => message.clone(),
        }
    }
}

/// A reload that went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version: Arc<str>,
    /// `false` when the files were the set already in force (nothing was swapped).
    pub changed: bool,
}

/// A reload refused; the set in force stays.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot read the policy files: {0}")]
    Read(String),
    #[error("policy set `{version}` is invalid:\n{errors}")]
    Invalid { version: String, errors: String },
    #[error("cannot record policy version `{version}`: {error}")]
    Store { version: String, error: StoreError },
}

/// Reads the policy directory and, when its set differs from the one in force, builds,
/// records and swaps it in. One reload at a time.
pub async fn reload(state: &Arc<State>, source: Source) -> Result<Applied, ReloadError> {
    let _one_at_a_time = state.policy.reloading().await;
    let dir = state.config.policy_source.dir.clone();
    let files = tokio::task::spawn_blocking(move || read_policy_dir(&dir))
        .await
        .map_err(|error| ReloadError::Read(error.to_string()))?
        .map_err(ReloadError::Read);
    let files = match files {
        Ok(files) => files,
        Err(error) => return Err(refused(state, &source, error)),
    };
    put_in_force(state, source, files).await
}

/// Builds, records and swaps in exactly `files` (the watcher's: the texts two looks
/// agreed on, never a third read that could catch a file mid-write). The caller holds
/// the reload turn.
async fn put_in_force(
    state: &Arc<State>,
    source: Source,
    files: Vec<PolicyFile>,
) -> Result<Applied, ReloadError> {
    let version = version_of(&files);
    if *state.policy.version() == *version {
        return Ok(Applied {
            version: version.into(),
            changed: false,
        });
    }
    let count = files.len();
    let shared_files = state.store.is_shared().then(|| files.clone());
    let engine = match build(state, files).await {
        Ok(engine) => engine,
        Err(errors) => {
            return Err(refused(
                state,
                &source,
                ReloadError::Invalid { version, errors },
            ));
        }
    };
    if let Err(error) = store_version(state, engine.version(), count, &source).await {
        let version = engine.version().to_string();
        return Err(refused(
            state,
            &source,
            ReloadError::Store { version, error },
        ));
    }
    if let Some(files) = shared_files
        && let Err(error) = shared::share(state, engine.version(), &files, source.actor()).await
    {
        let version = engine.version().to_string();
        return Err(refused(
            state,
            &source,
            ReloadError::Store { version, error },
        ));
    }
    let version = Arc::clone(engine.version());
    state.policy.swap(engine);
    tracing::info!(%version, actor = source.actor(), "policy set in force");
    state.events.emit(event(state, &source, &version, None));
    Ok(Applied {
        version,
        changed: true,
    })
}

/// Records `version` as loaded by `source` (also the set loaded at start-up).
pub async fn store_version(
    state: &State,
    version: &Arc<str>,
    files: usize,
    source: &impl LoadedBy,
) -> Result<(), StoreError> {
    let record = PolicyVersion {
        version: version.to_string(),
        loaded_at_ms: state.clock.now().millis(),
        by: source.by().to_owned(),
        message: source.why(),
        files: u32::try_from(files).unwrap_or(u32::MAX),
    };
    let store: Arc<dyn Store> = Arc::clone(&state.store);
    store_call("policy versions", move || {
        store.record_policy_version(&record)
    })
    .await
}

/// Who loaded a policy set and why, as stored.
pub trait LoadedBy {
    fn by(&self) -> &str;
    fn why(&self) -> Option<String>;
}

impl LoadedBy for Source {
    fn by(&self) -> &str {
        self.actor()
    }

    fn why(&self) -> Option<String> {
        self.message()
    }
}

/// The set loaded at start-up.
#[derive(Debug)]
pub struct AtStart;

impl LoadedBy for AtStart {
    fn by(&self) -> &str {
        "gatehouse"
    }

    fn why(&self) -> Option<String> {
        Some("loaded at start-up".to_owned())
    }
}

/// Looks at the policy files every `config.policy.watch_ms` and reloads a changed set
/// once two looks in a row agree on it (a file being written is not loaded half-way). A
/// set refused once is not tried again until the files change again.
pub fn spawn_watcher(
    state: &Arc<State>,
    mut stop: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let every = state.config.policy_source.watch?;
    let state = Arc::clone(state);
    Some(tokio::spawn(async move {
        let mut looks = Looks {
            acted_on: Some(state.policy.version().to_string()),
            ..Looks::default()
        };
        // The files were read at start-up: the first look is one interval later.
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => looks.look(&state).await,
                _ = stop.changed() => return,
            }
        }
    }))
}

/// What the watcher saw last.
#[derive(Debug, Default)]
struct Looks {
    /// The version of the files at the previous look.
    previous: Option<String>,
    /// The version of the files last acted on (loaded or refused; at first, what was
    /// loaded at start-up): only files that changed since are loaded. Comparing with the
    /// set in force instead would undo a set another replica shared (`shared.rs`),
    /// which this replica's files need not hold.
    acted_on: Option<String>,
    /// The last version refused, not tried again.
    refused: Option<String>,
    /// The config file's text at the previous look, and the text last read for its
    /// `enforce` flags (observe mode).
    config_previous: Option<String>,
    config_read: Option<String>,
}

impl Looks {
    async fn look(&mut self, state: &Arc<State>) {
        self.look_at_policies(state).await;
        self.look_at_config(state).await;
    }

    /// The config file's `enforce` flags, read again once a change reads the same twice.
    async fn look_at_config(&mut self, state: &Arc<State>) {
        let path = state.config.policy_source.config_file.clone();
        let Ok(Ok(text)) = tokio::task::spawn_blocking(move || std::fs::read_to_string(path)).await
        else {
            self.config_previous = None;
            return;
        };
        let stable = self.config_previous.as_deref() == Some(text.as_str());
        self.config_previous = Some(text.clone());
        if !stable || self.config_read.as_deref() == Some(text.as_str()) {
            return;
        }
        self.config_read = Some(text);
        if let Err(error) = reload_observe(state, "gatehouse").await {
            tracing::warn!(%error, "config file changed");
        }
    }

    async fn look_at_policies(&mut self, state: &Arc<State>) {
        let dir = state.config.policy_source.dir.clone();
        let Ok(Ok(files)) = tokio::task::spawn_blocking(move || read_policy_dir(&dir)).await else {
            // Unreadable for now (a directory being replaced): look again next time.
            self.previous = None;
            return;
        };
        let seen = version_of(&files);
        let stable = self.previous.as_deref() == Some(seen.as_str());
        self.previous = Some(seen.clone());
        if !stable || self.acted_on.as_deref() == Some(seen.as_str()) {
            return;
        }
        self.acted_on = Some(seen.clone());
        let current = state.policy.version();
        if *current == *seen || self.refused.as_deref() == Some(seen.as_str()) {
            return;
        }
        let _one_at_a_time = state.policy.reloading().await;
        if put_in_force(state, Source::Watcher, files).await.is_err() {
            self.refused = Some(seen);
        }
    }
}

/// The engine of `files` on the running configuration: the schema and entities of the
/// engine in force, and the policies of every file it already holds unchanged, are
/// reused; only changed files are parsed and validated.
async fn build(state: &State, files: Vec<PolicyFile>) -> Result<PolicyEngine, String> {
    let current = state.policy.current();
    let build = move || current.with_policies(&files).map_err(|e| e.to_string());
    tokio::task::spawn_blocking(build)
        .await
        .map_err(|error| error.to_string())?
}

/// Logs and records a refused reload; returns the error for the caller.
fn refused(state: &State, source: &Source, error: ReloadError) -> ReloadError {
    let current = state.policy.version();
    tracing::warn!(%error, in_force = %current, "policy reload refused; the set in force stays");
    state
        .events
        .emit(event(state, source, &current, Some(error.to_string())));
    error
}

/// The event of a reload: allowed (the new version in force) or refused (the reason,
/// and the version that stays).
fn event(state: &State, source: &Source, version: &Arc<str>, refusal: Option<String>) -> Event {
    let now = state.clock.now();
    let (method, path) = match source {
        Source::Watcher => (
            "WATCH",
            state.config.policy_source.dir.display().to_string(),
        ),
        Source::Apply { .. } => ("POST", "/v1/policies/apply".to_owned()),
    };
    let mut event = Event {
        method: method.to_owned(),
        path,
        ..Event::blank(state.next_id_at(now), now.millis(), EventKind::Policy)
    };
    event.intent = Some(Intent::new("policy.reload"));
    event.actor = Some(source.actor().into());
    event.policy_version = Some(PolicySetVersion::new(Arc::clone(version)));
    match refusal {
        None => {
            event.outcome = Outcome::Allow;
            event.status = 200;
            event.reason = source.message();
        }
        Some(reason) => {
            event.refusal = Some(RefusalKind::InvalidPolicy);
            event.status = 422;
            event.reason = Some(reason);
        }
    }
    event
}

/// Reads the config file again and puts its `enforce` flags in force; nothing else of
/// the file changes until a restart. `Ok(true)` when the observed set changed (an event
/// of kind `config` says to what).
pub async fn reload_observe(state: &State, actor: &str) -> Result<bool, String> {
    let path = state.config.policy_source.config_file.clone();
    let loaded = tokio::task::spawn_blocking(move || gatehouse_core::config::load(&path))
        .await
        .map_err(|error| error.to_string())?
        .map_err(|errors| {
            format!("the config file does not load, so its `enforce` flags stay:\n{errors}")
        })?;
    let observed = loaded.observe;
    if !state.observe.update(observed.clone()) {
        return Ok(false);
    }
    state.events.emit(observe_event(state, actor, &observed));
    Ok(true)
}

fn observe_event(state: &State, actor: &str, observed: &Observed) -> Event {
    let now = state.clock.now();
    let path = state.config.policy_source.config_file.display().to_string();
    let mut event = Event {
        method: "RELOAD".to_owned(),
        path,
        ..Event::blank(state.next_id_at(now), now.millis(), EventKind::Config)
    };
    event.intent = Some(Intent::new("observe.reload"));
    event.actor = Some(actor.into());
    event.outcome = Outcome::Allow;
    event.status = 200;
    event.reason = Some(crate::observe::describe(observed));
    event
}
