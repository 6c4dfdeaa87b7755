//! The broker: `POST /v1/token` exchanges a signed identity assertion for a short-lived
//! task credential bound to one agent, workflow, task class, segment and intent scope
//! (in the spirit of RFC 7523 / RFC 8693).

mod assertion;
mod certificate;
mod request;

use std::sync::Arc;

use gatehouse_core::config::{Agent, TaskClass};
use gatehouse_core::event::EventKind;
use gatehouse_core::model::{Intent, TaskClassName, WorkflowId};
use gatehouse_core::refusal::{AuthFailure, Refusal};
use gatehouse_core::token::{self, TASK_TOKEN_TYP, TaskClaims};
use gatehouse_core::workflow::Workflow;
use gatehouse_store::{Admission, Admitted, StoreError};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use rand::RngCore;

use self::assertion::Jti;
use crate::body::ResponseBody;
use crate::peer::Peer;
use crate::pipeline::record::{EventDraft, Identity};
use crate::problem::{insert_decision_header, json_response};
use crate::state::State;
use crate::workflows::LiveWorkflow;

pub use crate::throttle::Throttle;
pub use request::TokenRequest;

/// The intent a token request's event records.
const EXCHANGE_INTENT: &str = "token.exchange";

/// Handles one token request from `peer`; every outcome is an event.
pub async fn exchange(
    state: Arc<State>,
    request: Request<Incoming>,
    peer: &Peer,
) -> Response<ResponseBody> {
    let mut draft = EventDraft::begin(&state.emitter, &request, EventKind::Token);
    draft.intent(Intent::new(EXCHANGE_INTENT));
    // Before the body is read or a signature checked: that is the cost being limited.
    if !state
        .token_throttle
        .admit(peer.addr.ip(), std::time::Instant::now())
    {
        draft.note(&format!("from `{}`", peer.addr.ip()));
        return draft.refuse(&state.emitter, &Refusal::RateLimited);
    }
    match issue(&state, request, peer, &mut draft).await {
        Ok(body) => {
            let mut response = json_response(StatusCode::OK, &body, "application/json");
            insert_decision_header(&mut response, draft.id());
            draft.allow(&state.emitter, 200);
            response
        }
        Err(refusal) => draft.refuse(&state.emitter, &refusal),
    }
}

async fn issue(
    state: &Arc<State>,
    request: Request<Incoming>,
    peer: &Peer,
    draft: &mut EventDraft,
) -> Result<serde_json::Value, Refusal> {
    let form = request::read(request).await?;
    let (agent, jti) = identify(state, &form, peer, draft)?;
    if state.revocations.is_agent_revoked(agent.id.as_str()) {
        return Err(Refusal::InvalidAssertion(AuthFailure::Revoked));
    }
    let class = allowed_task_class(state, agent, &form.task_class)?;
    draft.identity(Identity {
        agent: agent.id.clone(),
        workflow: form.workflow.as_str().into(),
        task_class: class.name.clone(),
        segment: class.segment.clone(),
    });
    let workflow = open_workflow(state, agent, class, &form.workflow, jti).await?;
    let (token, claims) = mint(state, agent, class, &workflow)?;
    Ok(serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "issued_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "expires_in": claims.exp - claims.iat,
        "workflow": claims.wf,
        "task_class": claims.tc,
        "segment": claims.seg,
        "scope": claims.scope.join(" "),
    }))
}

/// Who asks: the agent a signed assertion names (with the assertion's `jti`, still to
/// be claimed) or, on a connection that presented a verified X.509-SVID and sent no
/// assertion, the agent that certificate names. Both present must name the same agent.
fn identify<'a>(
    state: &'a State,
    form: &TokenRequest,
    peer: &Peer,
    draft: &mut EventDraft,
) -> Result<(&'a Agent, Option<Jti>), Refusal> {
    let svid = peer.svid.as_deref();
    let Some(assertion) = &form.assertion else {
        let svid = svid.ok_or_else(|| Refusal::BadTokenRequest {
            reason: "missing `assertion`".to_owned(),
        })?;
        return Ok((certificate::agent(state, svid, draft)?, None));
    };
    let (agent, jti) = assertion::verify(state, assertion, draft)?;
    if let Some(svid) = svid
        && svid != agent.id.as_str()
    {
        return Err(certificate::mismatch(draft, svid));
    }
    Ok((agent, Some(jti)))
}

/// The agent may only obtain task classes its registration lists.
fn allowed_task_class<'a>(
    state: &'a State,
    agent: &Agent,
    name: &str,
) -> Result<&'a TaskClass, Refusal> {
    let refused = || Refusal::TaskClassNotAllowed {
        task_class: name.to_owned(),
    };
    let class = state.config.task_classes.get(name).ok_or_else(refused)?;
    if !agent.task_classes.contains(&TaskClassName::new(name)) {
        return Err(refused());
    }
    Ok(class)
}

/// The named workflow, created by this exchange if new, with the assertion's `jti`
/// claimed in the same write. An existing one must belong to this agent and task class
/// and still be live.
async fn open_workflow(
    state: &State,
    agent: &Agent,
    class: &TaskClass,
    id: &str,
    jti: Option<Jti>,
) -> Result<Workflow, Refusal> {
    let now = state.clock.now().secs();
    let ttl = i64::try_from(class.workflow_ttl.as_secs()).unwrap_or(i64::MAX);
    let candidate = Workflow::new(
        WorkflowId::new(id),
        agent.id.clone(),
        class.name.clone(),
        class.segment.clone(),
        class.budget,
        now,
        ttl,
    );
    let live = admit(state, candidate, jti, now).await?;
    let over = live.is_over(now);
    let workflow = live.snapshot();
    let refuse = |reason: String| Err(Refusal::BadTokenRequest { reason });
    if workflow.agent != agent.id {
        return refuse(format!("workflow `{id}` belongs to another agent"));
    }
    if workflow.task_class != class.name {
        return refuse(format!(
            "workflow `{id}` is of task class `{}`",
            workflow.task_class
        ));
    }
    if over {
        return refuse(format!(
            "workflow `{id}` is {} and issues no credentials",
            workflow.status.as_str()
        ));
    }
    Ok(workflow)
}

/// The exchange's writes: the `jti` claimed (a replay refused) and the workflow
/// created when this gateway does not hold it, together, in the broker's next batch
/// (`crate::admissions`). Without an assertion (a client certificate) there is no `jti`.
async fn admit(
    state: &State,
    candidate: Workflow,
    jti: Option<Jti>,
    now: i64,
) -> Result<Arc<LiveWorkflow>, Refusal> {
    let id = candidate.id.clone();
    let failed = |error: StoreError| Refusal::Internal {
        reason: format!("cannot open workflow `{id}`: {error}"),
    };
    let Some(jti) = jti else {
        return state.workflows.open(candidate).await.map_err(failed);
    };
    let held = state.workflows.cached(candidate.id.as_str());
    let admission = Admission {
        issuer: jti.issuer,
        jti: jti.jti,
        expires_at: jti.expires_at,
        workflow: held.is_none().then_some(candidate),
    };
    let admitted = state.admissions.admit(admission, now).await;
    match (admitted.map_err(failed)?, held) {
        (Admitted::Replayed, _) => Err(Refusal::InvalidAssertion(AuthFailure::Replayed)),
        (Admitted::Fresh(_), Some(held)) => Ok(held),
        (Admitted::Fresh(Some(stored)), None) => Ok(state.workflows.remember(stored)),
        (Admitted::Fresh(None), None) => Err(Refusal::Internal {
            reason: format!("the store created no workflow `{id}`"),
        }),
    }
}

fn mint(
    state: &State,
    agent: &Agent,
    class: &TaskClass,
    workflow: &Workflow,
) -> Result<(String, TaskClaims), Refusal> {
    let key = state
        .keys
        .active(&class.segment)
        .ok_or_else(|| Refusal::Internal {
            reason: format!("no signing key for segment `{}`", class.segment),
        })?;
    let now = state.clock.now().secs();
    let ttl = i64::try_from(class.ttl.as_secs()).unwrap_or(i64::MAX);
    let audience = state.config.gateway.audience.clone();
    let claims = TaskClaims {
        iss: audience.clone(),
        sub: agent.id.to_string(),
        aud: audience,
        iat: now,
        // A credential never outlives its workflow.
        exp: now.saturating_add(ttl).min(workflow.expires_at),
        jti: random_id(),
        wf: workflow.id.to_string(),
        tc: class.name.to_string(),
        seg: class.segment.to_string(),
        scope: class.intents.iter().map(ToString::to_string).collect(),
    };
    let token = token::sign_eddsa(TASK_TOKEN_TYP, Some(&key.kid), &claims, &key.signing).map_err(
        |error| Refusal::Internal {
            reason: format!("cannot sign the credential: {error}"),
        },
    )?;
    Ok((token, claims))
}

/// 128 random bits as 32 lowercase hex digits, in one formatting call rather than a
/// `format!` (and its allocation) per byte.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{:032x}", u128::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_random_id_is_32_lowercase_hex_digits() {
        for _ in 0..100 {
            let id = random_id();
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
        }
        assert_ne!(random_id(), random_id());
    }
}
