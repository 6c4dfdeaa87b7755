//! `/v1/policies`: the policy versions loaded (auditors, operators) and `POST
//! /v1/policies/apply` (operators): read the config file's `enforce` flags (observe mode)
//! and the policy files again, and put the set in force if it builds, with the
//! operator's message on its record. A set that does not build is
//! refused (409, with every error) and the one in force stays.

use std::sync::Arc;

use gatehouse_core::config::Role;
use http::{Request, Response};
use hyper::body::Incoming;
use serde::Deserialize;

use crate::body::ResponseBody;
use crate::control::{ControlError, auth, blocking, json, ok_json};
use crate::policy_reload::{ReloadError, Source};
use crate::state::State;

/// How many versions `GET /v1/policies` lists.
const LISTED: u32 = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Apply {
    #[serde(default)]
    message: Option<String>,
}

/// Routes `/v1/policies…`; `rest` is the path after `/v1/policies`.
pub(super) async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    rest: &str,
) -> Result<Response<ResponseBody>, ControlError> {
    match (request.method().as_str(), rest) {
        ("GET", "") => {
            auth::require(state, &request, &[Role::Auditor, Role::Operator])?;
            list(state).await
        }
        ("POST", "/apply") => apply(state, request).await,
        _ => Err(ControlError::NotFound),
    }
}

async fn list(state: &Arc<State>) -> Result<Response<ResponseBody>, ControlError> {
    let store = Arc::clone(&state.store);
    let versions = blocking(move || store.policy_versions(LISTED)).await?;
    Ok(ok_json(&serde_json::json!({
        "in_force": &*state.policy.version(),
        "versions": versions,
    })))
}

async fn apply(
    state: &Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, ControlError> {
    let caller = auth::require(state, &request, &[Role::Operator])?;
    let body: Apply = json::read(request).await?;
    let observe = crate::policy_reload::reload_observe(state, &caller.name)
        .await
        .map_err(|reason| ControlError::Conflict { reason })?;
    let source = Source::Apply {
        actor: caller.name,
        message: body.message,
    };
    let applied =
        crate::policy_reload::reload(state, source)
            .await
            .map_err(|error| match error {
                ReloadError::Store { .. } => ControlError::Unavailable {
                    reason: error.to_string(),
                },
                ReloadError::Read(_) | ReloadError::Invalid { .. } => ControlError::Conflict {
                    reason: error.to_string(),
                },
            })?;
    Ok(ok_json(&serde_json::json!({
        "version": &*applied.version,
        "changed": applied.changed,
        "observe": crate::observe::describe(&state.observe.current()),
        "observe_changed": observe,
    })))
}
