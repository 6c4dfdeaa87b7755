//! `/v1/quarantines`: list (auditors, operators), add and lift (operators). A quarantine
//! is a temporary deny on one segment, tool, intent or agent that wins over every
//! permit, effective on the next request and on calls in flight, ending by itself.
//! Every change is a `control` event with its actor.

use std::sync::Arc;

use gatehouse_core::config::Role;
use gatehouse_core::model::{Intent, SegmentName, ToolName};
use gatehouse_store::{Quarantine, QuarantineKind};
use http::{Method, Request, Response, Uri};
use hyper::body::Incoming;
use serde::Deserialize;

use crate::audit::{self, Action};
use crate::body::ResponseBody;
use crate::control::{ControlError, auth, blocking, json, ok_json};
use crate::state::State;

/// The longest quarantine: a year. Longer denies belong in policy.
const MAX_SECS: u64 = 365 * 24 * 3600;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Add {
    kind: QuarantineKind,
    subject: String,
    /// How long it holds, in seconds.
    for_secs: u64,
    reason: String,
}

/// Routes `/v1/quarantines…`; `rest` is the path after `/v1/quarantines`.
pub(super) async fn route(
    state: &Arc<State>,
    request: Request<Incoming>,
    rest: &str,
) -> Result<Response<ResponseBody>, ControlError> {
    match (request.method().as_str(), rest) {
        ("GET", "") => {
            auth::require(state, &request, &[Role::Auditor, Role::Operator])?;
            let live = state.quarantines.list(state.clock.now().millis());
            Ok(ok_json(&serde_json::json!({ "quarantines": live })))
        }
        ("POST", "") => add(state, request).await,
        ("DELETE", id) if id.len() > 1 && id.starts_with('/') => {
            let caller = auth::require(state, &request, &[Role::Operator])?;
            let id = id.trim_start_matches('/').to_owned();
            lift(state, &caller.name, request.method(), request.uri(), id).await
        }
        _ => Err(ControlError::NotFound),
    }
}

async fn add(
    state: &Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, ControlError> {
    let caller = auth::require(state, &request, &[Role::Operator])?;
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let body: Add = json::read(request).await?;
    validate(state, &body)?;
    let now = state.clock.now();
    let millis = i64::try_from(body.for_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let quarantine = Quarantine {
        id: state.next_id_at(now).to_string(),
        kind: body.kind,
        subject: body.subject,
        reason: body.reason,
        by: caller.name.clone(),
        at_ms: now.millis(),
        until_ms: now.millis().saturating_add(millis),
    };
    let stored = quarantine.clone();
    let store = Arc::clone(&state.store);
    blocking(move || store.put_quarantine(&stored)).await?;
    state.quarantines.add(quarantine.clone());
    let detail = format!(
        "quarantine `{}` of {} `{}` for {}s: {}",
        quarantine.id, quarantine.kind, quarantine.subject, body.for_secs, quarantine.reason
    );
    record(
        state,
        &caller.name,
        (&method, &uri),
        "quarantine.add",
        &quarantine,
        detail,
    );
    Ok(ok_json(&serde_json::json!(quarantine)))
}

async fn lift(
    state: &Arc<State>,
    actor: &str,
    method: &Method,
    uri: &Uri,
    id: String,
) -> Result<Response<ResponseBody>, ControlError> {
    // On a shared store, a re-read prompted by another change may drop it from memory
    // between the store's delete and the lift below: the copy held before answers then.
    let held = state
        .quarantines
        .list(0)
        .into_iter()
        .find(|held| held.id == id);
    let store = Arc::clone(&state.store);
    let key = id.clone();
    blocking(move || store.delete_quarantine(&key)).await?;
    let lifted = state
        .quarantines
        .lift(&id)
        .or(held)
        .ok_or(ControlError::NotFound)?;
    let detail = format!(
        "quarantine `{}` of {} `{}` lifted",
        lifted.id, lifted.kind, lifted.subject
    );
    record(
        state,
        actor,
        (method, uri),
        "quarantine.lift",
        &lifted,
        detail,
    );
    Ok(ok_json(&serde_json::json!(lifted)))
}

/// Records quarantines that ended by themselves, as Gatehouse's own action.
pub(crate) fn record_ended(state: &State, ended: &[Quarantine]) {
    let uri = Uri::from_static("/v1/quarantines");
    for quarantine in ended {
        let detail = format!(
            "quarantine `{}` of {} `{}` ended",
            quarantine.id, quarantine.kind, quarantine.subject
        );
        record(
            state,
            "gatehouse",
            (&Method::DELETE, &uri),
            "quarantine.end",
            quarantine,
            detail,
        );
    }
}

fn record(
    state: &State,
    actor: &str,
    (method, uri): (&Method, &Uri),
    intent: &'static str,
    quarantine: &Quarantine,
    detail: String,
) {
    let agent =
        (quarantine.kind == QuarantineKind::Agent).then(|| quarantine.subject.as_str().into());
    audit::record(
        state,
        Action {
            actor,
            method,
            uri,
            intent,
            agent,
            workflow: None,
            detail,
        },
    );
}

/// A quarantine must name something this gateway knows (but agents, which trusted
/// issuers may vouch for without registering them), last a while, and say why: a typo
/// must not quarantine nothing in silence.
fn validate(state: &State, body: &Add) -> Result<(), ControlError> {
    let config = &state.config;
    let subject = body.subject.as_str();
    let known = match body.kind {
        QuarantineKind::Segment => config.segments.contains_key(&SegmentName::new(subject)),
        QuarantineKind::Tool => {
            let name = ToolName::new(subject);
            config.tools.contains_key(&name) || config.mcp_servers.contains_key(&name)
        }
        QuarantineKind::Intent => config.intents.contains_key(&Intent::new(subject)),
        QuarantineKind::Agent => !subject.is_empty(),
    };
    let bad = |reason: String| Err(ControlError::BadRequest { reason });
    if !known {
        return bad(format!("no {} named `{subject}`", body.kind));
    }
    if body.for_secs == 0 || body.for_secs > MAX_SECS {
        return bad(format!(
            "`for_secs` must be between 1 and {MAX_SECS}, not {}",
            body.for_secs
        ));
    }
    if body.reason.trim().is_empty() {
        return bad("a quarantine needs a `reason`".to_owned());
    }
    Ok(())
}
