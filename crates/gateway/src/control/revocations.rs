//! `/v1/revocations`: revoke a credential, a workflow or an agent; reinstate an agent.
//! Every revocation is effective on the next request and on calls in flight.

use std::sync::Arc;

use gatehouse_core::config::Role;
use gatehouse_core::token::{TaskClaims, decode};
use gatehouse_store::{Revocation, RevocationKind};
use http::{Method, Request, Response, Uri};
use hyper::body::Incoming;
use serde::Deserialize;

use crate::audit::{self, Action};
use crate::body::ResponseBody;
use crate::control::workflows::unavailable;
use crate::control::{Caller, ControlError, auth, blocking, json, ok_json};
use crate::state::State;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Revoke {
    kind: RevocationKind,
    /// The `jti` (or the whole credential), the workflow id, or the agent id.
    subject: String,
    #[serde(default)]
    reason: String,
}

/// Routes `/v1/revocations…`; `rest` is the path after `/v1/revocations`.
pub(super) async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    rest: &str,
) -> Result<Response<ResponseBody>, ControlError> {
    match (request.method().as_str(), rest) {
        ("GET", "") => {
            auth::require(state, &request, &[Role::Auditor, Role::Operator])?;
            let store = Arc::clone(&state.store);
            let now = state.clock.now().secs();
            let revocations = blocking(move || store.revocations(now)).await?;
            Ok(ok_json(&serde_json::json!({ "revocations": revocations })))
        }
        ("POST", "") => revoke(state, request).await,
        ("DELETE", agent) if agent.starts_with("/agent/") => {
            let caller = auth::require(state, &request, &[Role::Operator])?;
            let agent = percent_decode(agent.trim_start_matches("/agent/"))?;
            reinstate(state, &caller, request.method(), request.uri(), &agent).await
        }
        _ => Err(ControlError::NotFound),
    }
}

async fn revoke(
    state: &Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, ControlError> {
    let caller = auth::require(state, &request, &[Role::Operator])?;
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let body: Revoke = json::read(request).await?;
    let action = Action {
        actor: &caller.name,
        method: &method,
        uri: &uri,
        intent: "revoke",
        agent: None,
        workflow: None,
        detail: String::new(),
    };
    let revocation = Revocation {
        // Who revoked is part of the record, the answer and the event's story.
        by: caller.name.clone(),
        ..match body.kind {
            RevocationKind::Token => revoke_token(state, &body)?,
            RevocationKind::Workflow => revoke_workflow(state, &caller, &body).await?,
            RevocationKind::Agent => revoke_agent(state, &caller, &body).await?,
        }
    };
    let stored = revocation.clone();
    let store = Arc::clone(&state.store);
    blocking(move || store.put_revocation(&stored)).await?;
    audit::record_durable(state, audited(action, &revocation)).await;
    Ok(ok_json(&serde_json::json!(revocation)))
}

fn audited<'a>(mut action: Action<'a>, revocation: &Revocation) -> Action<'a> {
    action.intent = match revocation.kind {
        RevocationKind::Token => "revoke.token",
        RevocationKind::Workflow => "revoke.workflow",
        RevocationKind::Agent => "revoke.agent",
    };
    match revocation.kind {
        RevocationKind::Agent => action.agent = Some(revocation.subject.as_str().into()),
        RevocationKind::Workflow => action.workflow = Some(revocation.subject.as_str().into()),
        RevocationKind::Token => {}
    }
    action.detail = format!(
        "revoked {} `{}` by `{}`: {}",
        revocation.kind.as_str(),
        revocation.subject,
        revocation.by,
        revocation.reason
    );
    action
}

/// A credential by `jti`, or by its full text (whose `exp` then bounds the record).
fn revoke_token(state: &State, body: &Revoke) -> Result<Revocation, ControlError> {
    let (jti, expires_at) = match decode(&body.subject).and_then(|jwt| jwt.claims::<TaskClaims>()) {
        Ok(claims) => (claims.jti, claims.exp),
        Err(_) => (body.subject.clone(), longest_credential_expiry(state)),
    };
    state.revocations.revoke_token(&jti, expires_at);
    Ok(revocation(
        state,
        RevocationKind::Token,
        jti,
        body,
        Some(expires_at),
    ))
}

/// Without the credential itself, keep the record until any credential could have expired.
fn longest_credential_expiry(state: &State) -> i64 {
    let longest = state
        .config
        .task_classes
        .values()
        .map(|class| class.ttl.as_secs())
        .max()
        .unwrap_or(0);
    state
        .clock
        .now()
        .secs()
        .saturating_add(i64::try_from(longest).unwrap_or(i64::MAX))
}

async fn revoke_workflow(
    state: &State,
    caller: &Caller,
    body: &Revoke,
) -> Result<Revocation, ControlError> {
    let live = state
        .workflows
        .get(&body.subject)
        .await
        .map_err(unavailable)?
        .ok_or(ControlError::NotFound)?;
    // Ending is idempotent; an expired workflow is already dead, which is what was asked.
    let _ = live.end(&format!("revocation by operator `{}`", caller.name));
    crate::audit::cancel_for(state, Some(&body.subject), None).await;
    state.workflows.flush().await.map_err(unavailable)?;
    Ok(revocation(
        state,
        RevocationKind::Workflow,
        body.subject.clone(),
        body,
        None,
    ))
}

async fn revoke_agent(
    state: &State,
    caller: &Caller,
    body: &Revoke,
) -> Result<Revocation, ControlError> {
    if !state.config.agents.contains_key(body.subject.as_str()) {
        return Err(ControlError::BadRequest {
            reason: format!("unknown agent `{}`", body.subject),
        });
    }
    state.revocations.revoke_agent(&body.subject);
    let by = format!(
        "revocation of agent `{}` by operator `{}`",
        body.subject, caller.name
    );
    state
        .workflows
        .end_all_of(&body.subject, &by)
        .await
        .map_err(unavailable)?;
    crate::audit::cancel_for(state, None, Some(&body.subject)).await;
    Ok(revocation(
        state,
        RevocationKind::Agent,
        body.subject.clone(),
        body,
        None,
    ))
}

async fn reinstate(
    state: &Arc<State>,
    caller: &Caller,
    method: &Method,
    uri: &Uri,
    agent: &str,
) -> Result<Response<ResponseBody>, ControlError> {
    let was_revoked = state.revocations.reinstate_agent(agent);
    let store = Arc::clone(&state.store);
    let subject = agent.to_owned();
    let stored = blocking(move || store.delete_revocation(RevocationKind::Agent, &subject)).await?;
    if !was_revoked && !stored {
        return Err(ControlError::NotFound);
    }
    let action = Action {
        actor: &caller.name,
        method,
        uri,
        intent: "reinstate.agent",
        agent: Some(agent.into()),
        workflow: None,
        detail: format!("reinstated agent `{agent}`: it may obtain new credentials"),
    };
    audit::record_durable(state, action).await;
    Ok(ok_json(&serde_json::json!({ "reinstated": agent })))
}

fn revocation(
    state: &State,
    kind: RevocationKind,
    subject: String,
    body: &Revoke,
    expires_at: Option<i64>,
) -> Revocation {
    Revocation {
        kind,
        subject,
        at_ms: state.clock.now().millis(),
        by: String::new(),
        reason: body.reason.clone(),
        expires_at,
    }
}

fn percent_decode(text: &str) -> Result<String, ControlError> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| ControlError::BadRequest {
            reason: "the agent id is not UTF-8".to_owned(),
        })
}
