//! The control plane, on its own listener: health, readiness and the event query API,
//! for operators holding tokens whose SHA-256 is in the config.

mod approvals;
mod auth;
mod baselines;
mod chain;
pub mod console;
mod evidence;
mod forensics;
mod json;
pub(crate) mod playbooks;
mod policies;
pub(crate) mod quarantines;
mod query;
mod revocations;
mod stream;
mod workflows;

use std::sync::Arc;

use gatehouse_core::config::Role;
use gatehouse_core::event::EventFilter;
use gatehouse_core::ids::DecisionId;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::problem::json_response;
use crate::state::State;

pub(crate) use approvals::{Decision, decide_approval};
pub use auth::Caller;
pub(crate) use auth::find as find_operator;

/// Why a control-plane request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("missing or unknown operator token")]
    Unauthenticated,
    #[error("this needs one of the roles: {needed}")]
    Forbidden { needed: String },
    #[error("{reason}")]
    BadRequest { reason: String },
    #[error("not found")]
    NotFound,
    #[error("{reason}")]
    Conflict { reason: String },
    #[error("the store is unavailable")]
    Unavailable { reason: String },
}

impl ControlError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden { .. } => "forbidden",
            Self::BadRequest { .. } => "bad-request",
            Self::NotFound => "not-found",
            Self::Conflict { .. } => "conflict",
            Self::Unavailable { .. } => "unavailable",
        }
    }

    fn response(&self) -> Response<ResponseBody> {
        if let Self::Unavailable { reason } = self {
            tracing::error!(%reason, "control plane: store unavailable");
        }
        let document = serde_json::json!({
            "type": format!("urn:gatehouse:problem:control:{}", self.kind()),
            "title": self.to_string(),
            "status": self.status().as_u16(),
        });
        json_response(self.status(), &document, crate::problem::PROBLEM_JSON)
    }
}

/// Routes one control-plane request.
pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response<ResponseBody> {
    let path = request.uri().path().to_owned();
    if path == "/console" || path.starts_with("/console/") {
        return crate::control::console::handle(state, request).await;
    }
    let result = if let Some(rest) = path.strip_prefix("/v1/workflows") {
        workflows::route(&state, request, rest).await
    } else if path.starts_with("/v1/approvals") || path.starts_with("/v1/confirmations/") {
        approvals::route(&state, request, &path).await
    } else if let Some(rest) = path.strip_prefix("/v1/quarantines") {
        quarantines::route(&state, request, rest).await
    } else if let Some(rest) = path.strip_prefix("/v1/policies") {
        policies::route(&state, request, rest).await
    } else if let Some(rest) = path.strip_prefix("/v1/forensics") {
        forensics::route(&state, request, rest).await
    } else if let Some(rest) = path.strip_prefix("/v1/recordings") {
        forensics::recordings(&state, request, rest).await
    } else if let Some(rest) = path.strip_prefix("/v1/playbook-runs") {
        playbooks::route(&state, request, rest).await
    } else if let Some(rest) = path.strip_prefix("/v1/revocations") {
        revocations::route(&state, request, rest).await
    } else if let Some(segment) = path
        .strip_prefix("/v1/keys/")
        .and_then(|rest| rest.strip_suffix("/rotate"))
    {
        rotate_key(&state, &request, segment)
    } else {
        route(&state, &request).await
    };
    result.unwrap_or_else(|error| error.response())
}

/// `POST /v1/keys/{segment}/rotate`: a fresh signing key; the old one verifies until the
/// longest credential it may have signed has expired.
fn rotate_key<B>(
    state: &State,
    request: &Request<B>,
    segment: &str,
) -> Result<Response<ResponseBody>, ControlError> {
    if request.method() != Method::POST {
        return Err(ControlError::NotFound);
    }
    let caller = auth::require(state, request, &[Role::Operator])?;
    let segment = gatehouse_core::model::SegmentName::new(segment);
    let longest = state
        .config
        .task_classes
        .values()
        .filter(|class| class.segment == segment)
        .map(|class| class.ttl.as_secs())
        .max()
        .unwrap_or(0);
    let retire_at = state
        .clock
        .now()
        .secs()
        .saturating_add(i64::try_from(longest).unwrap_or(i64::MAX));
    let rotation = state
        .keys
        .rotate(&segment, retire_at)
        .map_err(|error| match error {
            crate::keys::KeyError::UnknownSegment(_) => ControlError::NotFound,
            other => ControlError::Unavailable {
                reason: other.to_string(),
            },
        })?;
    crate::audit::record(
        state,
        crate::audit::Action {
            actor: &caller.name,
            method: request.method(),
            uri: request.uri(),
            intent: "keys.rotate",
            agent: None,
            workflow: None,
            detail: format!(
                "segment `{segment}`: new key `{}`, old key `{}` retires at {}",
                rotation.new_kid, rotation.old_kid, rotation.old_retires_at
            ),
        },
    );
    Ok(ok_json(&serde_json::json!(rotation)))
}

async fn route(
    state: &Arc<State>,
    request: &Request<Incoming>,
) -> Result<Response<ResponseBody>, ControlError> {
    let path = request.uri().path();
    match (request.method(), path) {
        (&Method::GET, "/healthz") => Ok(ok_json(&serde_json::json!({ "status": "ok" }))),
        (&Method::GET, "/readyz") => ready(state).await,
        (&Method::GET, "/v1/audit/verify") => chain::verify(state, request).await,
        (&Method::GET, "/v1/evidence") => evidence::export(state, request).await,
        (&Method::GET, "/v1/baselines") => baselines::show(state, request).await,
        (&Method::GET, "/metrics") => {
            auth::require(state, request, &[Role::Auditor, Role::Operator])?;
            metrics(state).await
        }
        (&Method::GET, "/v1/events") => {
            auth::require(state, request, &[Role::Auditor, Role::Operator])?;
            let filter = query::event_filter(request.uri().query().unwrap_or(""))?;
            events(state, filter).await
        }
        (&Method::GET, "/v1/events/stream") => {
            auth::require(state, request, &[Role::Auditor, Role::Operator])?;
            stream::open(state, request).await
        }
        (&Method::GET, _) if path.starts_with("/v1/events/") => {
            auth::require(state, request, &[Role::Auditor, Role::Operator])?;
            let id = path.trim_start_matches("/v1/events/");
            let id = DecisionId::parse(id).ok_or(ControlError::NotFound)?;
            event(state, id).await
        }
        _ => Err(ControlError::NotFound),
    }
}

/// `GET /metrics`: the Prometheus text exposition; gauges are read now.
async fn metrics(state: &Arc<State>) -> Result<Response<ResponseBody>, ControlError> {
    let store = Arc::clone(&state.store);
    let for_sinks = Arc::clone(state);
    let (store_up, pending, sinks) = tokio::task::spawn_blocking(move || {
        let filter = gatehouse_store::ApprovalFilter {
            status: Some(gatehouse_core::approval::ApprovalStatus::Pending),
            limit: Some(gatehouse_store::MAX_LIMIT),
            ..gatehouse_store::ApprovalFilter::default()
        };
        let pending = store
            .list_approvals(&filter)
            .ok()
            .map(|listed| listed.len());
        let sinks = for_sinks.sinks.render(&*store);
        (store.ping().is_ok(), pending, sinks)
    })
    .await
    .unwrap_or((false, None, String::new()));
    let (revoked_tokens, revoked_agents) = state.revocations.counts();
    let gauges = crate::metrics::Gauges {
        pending_approvals: pending,
        revoked_tokens,
        revoked_agents,
        quarantines: state.quarantines.list(state.clock.now().millis()).len(),
        store_up,
    };
    let mut text = state.metrics.render(&gauges);
    text.push_str(&sinks);
    let mut response = Response::new(crate::body::full(text));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

async fn ready(state: &Arc<State>) -> Result<Response<ResponseBody>, ControlError> {
    let max = state.config.gateway.max_staleness;
    if let Some(for_ms) = state.feed.stale_for(state.clock.now().millis(), max) {
        return Err(ControlError::Unavailable {
            reason: format!("no news of other replicas' changes for {for_ms} ms"),
        });
    }
    if let Some(queued) = state.events.full() {
        return Err(ControlError::Unavailable {
            reason: format!("{queued} events wait to be stored; calls are refused until they are"),
        });
    }
    let store = Arc::clone(&state.store);
    blocking(move || store.ping()).await?;
    Ok(ok_json(&serde_json::json!({ "status": "ready" })))
}

async fn events(
    state: &Arc<State>,
    filter: EventFilter,
) -> Result<Response<ResponseBody>, ControlError> {
    let store = Arc::clone(&state.store);
    let events = blocking(move || store.query_events(&filter)).await?;
    Ok(ok_json(&serde_json::json!({ "events": events })))
}

async fn event(state: &Arc<State>, id: DecisionId) -> Result<Response<ResponseBody>, ControlError> {
    let store = Arc::clone(&state.store);
    let event = blocking(move || store.event(id))
        .await?
        .ok_or(ControlError::NotFound)?;
    Ok(ok_json(&serde_json::json!(event)))
}

/// Runs a store call off the async workers (the PostgreSQL store is told so, and works
/// in place: `crate::blocking::store_call`).
pub(crate) async fn blocking<T, E>(
    call: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ControlError>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    tokio::task::spawn_blocking(|| gatehouse_store::off_async_workers(call))
        .await
        .map_err(|error| ControlError::Unavailable {
            reason: error.to_string(),
        })?
        .map_err(|error| ControlError::Unavailable {
            reason: error.to_string(),
        })
}

pub(crate) fn ok_json(value: &serde_json::Value) -> Response<ResponseBody> {
    json_response(StatusCode::OK, value, "application/json")
}
