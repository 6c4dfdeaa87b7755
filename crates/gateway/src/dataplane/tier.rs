//! Phase 5: the risk tier. Low passes. Medium needs a confirmation from the workflow's
//! confirmer, bound to this exact call (its digest) and usable once. High parks the exact
//! call for human approval: Gatehouse runs the stored call itself once approved, so
//! nothing the agent sends after parking can change what runs.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gatehouse_core::approval::{Approval, ApprovalStatus, CallToPark, ParkedCall};
use gatehouse_core::model::Tier;
use gatehouse_core::refusal::Refusal;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use http_body::Body as _;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::credential::Credential;
use crate::dataplane::classify::Call;
use crate::pipeline::record::EventDraft;
use crate::pipeline::tier::{Gatekeeping, confirm, park};
use crate::problem::{insert_decision_header, json_response};
use crate::state::State;

/// The header carrying a confirmation id on the re-sent call.
pub const CONFIRMATION_HEADER: &str = "gatehouse-confirmation";

/// What the tier phase decided.
#[derive(Debug)]
pub enum Gate {
    /// Go on to the budget and forward, with the body as it should be sent.
    Proceed(ResponseBody, u64),
    /// The call was parked; answer with this.
    Parked(Response<ResponseBody>),
}

/// A call's request body: still streaming, or already read whole because its route
/// declares body arguments (these exact bytes were decided on, and are the ones sent).
#[derive(Debug)]
pub enum CallBody {
    Streaming(Incoming),
    Read(Bytes),
}

/// Everything the tier phase needs to know about the call.
#[derive(Debug)]
pub struct Checked<'a> {
    pub credential: &'a Credential,
    pub call: &'a Call<'a>,
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub tier: Tier,
}

pub async fn gate(
    state: &Arc<State>,
    checked: Checked<'_>,
    body: CallBody,
    draft: &mut EventDraft,
) -> Result<Gate, Refusal> {
    if checked.tier == Tier::Low {
        let body = match body {
            CallBody::Read(bytes) => return proceed_whole(&checked, bytes),
            CallBody::Streaming(body) => body,
        };
        // No length (chunked, or HTTP/2 without `content-length`): read it whole, up to
        // the limit, so its size is counted against the budget before the tool sees a
        // byte and bad framing is the agent's 400, never half-forwarded. A form body is
        // read whole too, for the `_method` it may carry.
        if body.size_hint().exact().is_none() || form_override_possible(&checked) {
            return Box::pin(read_whole(state, &checked, body)).await;
        }
        let declared = crate::pipeline::budget::check_declared_body(
            state.config.gateway.limits.max_request_body,
            checked.headers,
        )?;
        return Ok(Gate::Proceed(body.map_err(Into::into).boxed(), declared));
    }
    // The confirmation and approval paths hold large futures: on the heap, so the future
    // of every low-tier call (moved a few times per request) stays small.
    Box::pin(confirm_or_park(state, checked, body, draft)).await
}

async fn confirm_or_park(
    state: &Arc<State>,
    checked: Checked<'_>,
    body: CallBody,
    draft: &mut EventDraft,
) -> Result<Gate, Refusal> {
    let bytes = match body {
        CallBody::Read(bytes) => bytes,
        CallBody::Streaming(body) => read_body(state, body).await?,
    };
    check_form_override(&checked, &bytes)?;
    let parked = parked_call(&checked, &bytes);
    let gatekeeping = Gatekeeping {
        credential: checked.credential,
        intent: &checked.call.route.intent,
        tier: checked.tier,
        policies: draft.policy_ids().to_vec(),
        confirmation: checked
            .headers
            .get(CONFIRMATION_HEADER)
            .and_then(|value| value.to_str().ok()),
        wait: requested_wait(checked.headers),
    };
    if checked.tier == Tier::Medium {
        confirm(state.checkpoints(), &gatekeeping, parked, draft).await?;
        let length = bytes.len() as u64;
        return Ok(Gate::Proceed(crate::body::full(bytes), length));
    }
    let wait = gatekeeping.wait;
    let settled = park(state.checkpoints(), &gatekeeping, parked, draft).await?;
    let mut response = outcome_response(&settled, draft.id())?;
    applied_wait(&mut response, wait, state.config.approvals.max_wait);
    Ok(Gate::Parked(response))
}

/// `Preference-Applied: wait=N` (RFC 7240) when the agent asked to wait: the seconds
/// honoured, so an agent that asked for more than `max_wait_secs` learns it was capped.
fn applied_wait(response: &mut Response<ResponseBody>, asked: Duration, max: Duration) {
    if asked.is_zero() {
        return;
    }
    let applied = asked.min(max).as_secs();
    if let Ok(value) = HeaderValue::from_str(&format!("wait={applied}")) {
        response.headers_mut().insert("preference-applied", value);
    }
}

/// A low-tier body read whole before it is forwarded.
async fn read_whole(state: &State, checked: &Checked<'_>, body: Incoming) -> Result<Gate, Refusal> {
    let bytes = read_body(state, body).await?;
    proceed_whole(checked, bytes)
}

/// A body already read whole goes on as it is.
fn proceed_whole(checked: &Checked<'_>, bytes: Bytes) -> Result<Gate, Refusal> {
    check_form_override(checked, &bytes)?;
    let length = bytes.len() as u64;
    Ok(Gate::Proceed(crate::body::full(bytes), length))
}

/// Rack (Rails) and Laravel read `_method` from a POST form body as they do from the
/// query: such a body may make the tool run another method than the one decided,
/// unless the route opts in (`method_param`).
fn form_override_possible(checked: &Checked<'_>) -> bool {
    !checked.call.route.method_param && is_form_post(checked.method, checked.headers)
}

/// A POST whose body is a form, which some frameworks read `_method` from.
fn is_form_post(method: &Method, headers: &HeaderMap) -> bool {
    *method == Method::POST
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.split(';').next().unwrap_or("").trim())
            .is_some_and(|essence| {
                essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
                    || essence.eq_ignore_ascii_case("multipart/form-data")
            })
}

fn check_form_override(checked: &Checked<'_>, body: &[u8]) -> Result<(), Refusal> {
    if !form_override_possible(checked) {
        return Ok(());
    }
    refuse_method_field(body)
}

/// For a call no route classified (discovery), which no route let override its method.
pub(crate) fn check_unrouted_form(
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Refusal> {
    if !is_form_post(method, headers) {
        return Ok(());
    }
    refuse_method_field(body)
}

fn refuse_method_field(body: &[u8]) -> Result<(), Refusal> {
    let text = String::from_utf8_lossy(body);
    let multipart = text.to_ascii_lowercase().contains("name=\"_method\"");
    if multipart
        || text
            .split('&')
            .any(gatehouse_core::headers::has_method_param)
    {
        return Err(Refusal::UnsafeRequest {
            reason: "a `_method` field in a form body (a method override to some frameworks)"
                .to_owned(),
        });
    }
    Ok(())
}

/// The whole body, up to `max_request_body`.
pub(crate) async fn read_body(state: &State, body: Incoming) -> Result<Bytes, Refusal> {
    let limit = state.config.gateway.limits.max_request_body;
    let capped = usize::try_from(limit).unwrap_or(usize::MAX);
    Limited::new(body, capped)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|error| {
            if error.is::<LengthLimitError>() {
                Refusal::BodyTooLarge { limit }
            } else {
                Refusal::MalformedBody {
                    reason: format!("the request body could not be read: {error}"),
                }
            }
        })
}

fn parked_call(checked: &Checked<'_>, body: &Bytes) -> ParkedCall {
    let call = checked.call;
    ParkedCall::new(CallToPark {
        method: checked.method.as_str().to_owned(),
        tool: call.tool.tool.name.clone(),
        intent: call.route.intent.clone(),
        path: call.tool_path.to_owned(),
        query: call.query.map(str::to_owned),
        content_type: checked
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        body: body.to_vec(),
    })
}

/// The agent's answer for an approval as it stands: the stored upstream response once
/// executed, a refusal once it will never run, else `202` with where to poll.
pub fn outcome_response(
    approval: &Approval,
    decision: gatehouse_core::ids::DecisionId,
) -> Result<Response<ResponseBody>, Refusal> {
    let id = approval.id.clone();
    match approval.status {
        ApprovalStatus::Done => Ok(stored_response(approval, decision)),
        ApprovalStatus::Denied => Err(Refusal::ApprovalDenied { id }),
        ApprovalStatus::Expired => Err(Refusal::ApprovalExpired { id }),
        ApprovalStatus::Cancelled => Err(Refusal::ApprovalCancelled { id }),
        ApprovalStatus::Pending | ApprovalStatus::Approved | ApprovalStatus::Executing => {
            let body = serde_json::json!({
                "approval_id": id,
                "status": approval.status.as_str(),
                "poll": format!("/v1/approvals/{}", approval.id),
                "expires_at": approval.expires_at,
                "decision_id": decision.to_string(),
            });
            let mut response = json_response(StatusCode::ACCEPTED, &body, "application/json");
            insert_decision_header(&mut response, decision);
            Ok(response)
        }
    }
}

fn stored_response(
    approval: &Approval,
    decision: gatehouse_core::ids::DecisionId,
) -> Response<ResponseBody> {
    let Some(stored) = &approval.response else {
        return json_response(
            StatusCode::BAD_GATEWAY,
            &serde_json::json!({"approval_id": approval.id}),
            "application/json",
        );
    };
    let mut response = Response::new(crate::body::full(stored.body.clone()));
    *response.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::BAD_GATEWAY);
    if let Some(content_type) = stored
        .content_type
        .as_deref()
        .and_then(|value| value.parse().ok())
    {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    if let Ok(value) = approval.id.parse() {
        response
            .headers_mut()
            .insert("gatehouse-approval-id", value);
    }
    insert_decision_header(&mut response, decision);
    response
}

/// `Prefer: wait=N` (RFC 7240), in seconds.
fn requested_wait(headers: &HeaderMap) -> Duration {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|preference| preference.trim().strip_prefix("wait="))
        .find_map(|seconds| seconds.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_secs)
}
