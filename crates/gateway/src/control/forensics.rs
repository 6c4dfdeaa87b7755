//! `/v1/forensics` (list for auditors and operators; `POST` to turn on, `POST …/off` to
//! turn off, operators only) and `/v1/recordings` (list and show, auditors and
//! operators). Turning forensics on or off is a `control` event with its actor.

use std::sync::Arc;

use gatehouse_core::config::Role;
use http::{Request, Response};
use hyper::body::Incoming;
use serde::Deserialize;

use crate::audit::{self, Action};
use crate::body::ResponseBody;
use crate::control::{ControlError, auth, blocking, json, ok_json};
use crate::forensics::{Target, TargetKind};
use crate::state::State;

/// The longest forensics window without turning it off by hand: a week.
const MAX_SECS: u64 = 7 * 24 * 3600;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct On {
    kind: TargetKind,
    subject: String,
    /// How long it holds; absent holds until turned off (or the gateway restarts).
    for_secs: Option<u64>,
    /// JSON fields and header names whose values are redacted in recordings.
    #[serde(default)]
    redact: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Off {
    kind: TargetKind,
    subject: String,
}

/// Routes `/v1/forensics…`; `rest` is the path after it.
pub(super) async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    rest: &str,
) -> Result<Response<ResponseBody>, ControlError> {
    match (request.method().as_str(), rest) {
        ("GET", "") => {
            auth::require(state, &request, &[Role::Auditor, Role::Operator])?;
            let targets = state.forensics.list(state.clock.now().millis());
            Ok(ok_json(&serde_json::json!({ "forensics": targets })))
        }
        ("POST", "") => on(state, request).await,
        ("POST", "/off") => off(state, request).await,
        _ => Err(ControlError::NotFound),
    }
}

async fn on(
    state: &Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, ControlError> {
    let caller = auth::require(state, &request, &[Role::Operator])?;
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let body: On = json::read(request).await?;
    if body.kind == TargetKind::Agent && !state.config.agents.contains_key(body.subject.as_str()) {
        return Err(ControlError::BadRequest {
            reason: format!("no agent named `{}`", body.subject),
        });
    }
    if body
        .for_secs
        .is_some_and(|secs| secs == 0 || secs > MAX_SECS)
    {
        return Err(ControlError::BadRequest {
            reason: format!("`for_secs` must be between 1 and {MAX_SECS}"),
        });
    }
    let now = state.clock.now().millis();
    let until_ms = body
        .for_secs
        .map(|secs| now.saturating_add(i64::try_from(secs * 1000).unwrap_or(i64::MAX)));
    let target = Target {
        kind: body.kind,
        subject: body.subject,
        until_ms,
        by: caller.name.clone(),
        at_ms: now,
        redact: body.redact,
    };
    state.forensics.add(target.clone());
    let detail = format!(
        "forensics on for {:?} `{}` until {}; redacting {:?}",
        target.kind,
        target.subject,
        until_ms.map_or_else(|| "turned off".to_owned(), |until| until.to_string()),
        target.redact
    );
    record(
        state,
        &caller.name,
        (&method, &uri),
        "forensics.on",
        &target.kind,
        &target.subject,
        detail,
    )
    .await;
    Ok(ok_json(&serde_json::json!(target)))
}

async fn off(
    state: &Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, ControlError> {
    let caller = auth::require(state, &request, &[Role::Operator])?;
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let body: Off = json::read(request).await?;
    let removed = state
        .forensics
        .remove(body.kind, &body.subject)
        .ok_or(ControlError::NotFound)?;
    let detail = format!("forensics off for {:?} `{}`", removed.kind, removed.subject);
    record(
        state,
        &caller.name,
        (&method, &uri),
        "forensics.off",
        &removed.kind,
        &removed.subject,
        detail,
    )
    .await;
    Ok(ok_json(&serde_json::json!(removed)))
}

async fn record(
    state: &State,
    actor: &str,
    (method, uri): (&http::Method, &http::Uri),
    intent: &'static str,
    kind: &TargetKind,
    subject: &str,
    detail: String,
) {
    let (agent, workflow) = match kind {
        TargetKind::Agent => (Some(subject.into()), None),
        TargetKind::Workflow => (None, Some(subject.into())),
    };
    let action = Action {
        actor,
        method,
        uri,
        intent,
        agent,
        workflow,
        detail,
    };
    audit::record_durable(state, action).await;
}

/// Routes `/v1/recordings…`: `?agent=A&limit=N`, or `/{id}`.
pub(super) async fn recordings(
    state: &Arc<State>,
    request: Request<Incoming>,
    rest: &str,
) -> Result<Response<ResponseBody>, ControlError> {
    if request.method() != http::Method::GET {
        return Err(ControlError::NotFound);
    }
    auth::require(state, &request, &[Role::Auditor, Role::Operator])?;
    let store = Arc::clone(&state.store);
    if let Some(id) = rest.strip_prefix('/').filter(|id| !id.is_empty()) {
        let id = id.to_owned();
        let found = blocking(move || store.recording(&id)).await?;
        return Ok(ok_json(&serde_json::json!(
            found.ok_or(ControlError::NotFound)?
        )));
    }
    let (agent, limit) = list_query(request.uri().query().unwrap_or(""))?;
    let listed = blocking(move || store.recordings(agent.as_deref(), limit)).await?;
    Ok(ok_json(&serde_json::json!({ "recordings": listed })))
}

fn list_query(query: &str) -> Result<(Option<String>, u32), ControlError> {
    let (mut agent, mut limit) = (None, 100);
    let pairs =
        gatehouse_core::form::distinct_pairs(query).map_err(|error| ControlError::BadRequest {
            reason: error.to_string(),
        })?;
    for (key, value) in pairs {
        match key.as_str() {
            "agent" => agent = Some(value),
            "limit" => {
                limit = value.parse().map_err(|_| ControlError::BadRequest {
                    reason: format!("invalid value `{value}` for `limit`"),
                })?;
            }
            _ => {
                return Err(ControlError::BadRequest {
                    reason: format!("unknown query parameter `{key}`"),
                });
            }
        }
    }
    Ok((agent, limit))
}
