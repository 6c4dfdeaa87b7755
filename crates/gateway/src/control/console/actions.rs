//! The console's form posts: sign in, sign out, and an approver's verdict. Each change
//! checks the session's CSRF token before anything else it does.

use std::sync::Arc;

use gatehouse_core::approval::ApprovalStatus;
use gatehouse_core::config::{Operator, Role};
use gatehouse_core::ids::ApprovalId;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::control::console::form::{self, Form};
use crate::control::console::pages::{self, Notice};
use crate::control::console::{approval_page, html, message, redirect};
use crate::control::{Caller, ControlError, Decision, decide_approval, find_operator};
use crate::sessions::{self as session, Session};
use crate::state::State;

/// Why a change was refused before it was attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The form did not carry this session's CSRF token.
    Csrf,
    /// The session lacks the role.
    Role,
}

/// `POST /console/login`: the token, checked exactly as the control plane's bearer
/// tokens are; a session and its cookie on success, the form again (401) otherwise.
pub(crate) async fn login(
    state: &Arc<State>,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let token = match form::read(request).await {
        Ok(form) => form.field("token").unwrap_or_default().trim().to_owned(),
        Err(error) => {
            return html(
                StatusCode::BAD_REQUEST,
                pages::login(Some(&error.to_string())),
            );
        }
    };
    let Some(operator) = authenticate(&state.config.operators, &token) else {
        let text = "That is not an operator token.";
        return html(StatusCode::UNAUTHORIZED, pages::login(Some(text)));
    };
    let id = state.console.create(operator, state.clock.now().secs());
    let mut response = redirect("/console");
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(
        &id,
        state.config.gateway.control_tls.is_some(),
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The operator holding `token`, if any (never for an empty token).
pub(crate) fn authenticate<'a>(operators: &'a [Operator], token: &str) -> Option<&'a Operator> {
    if token.is_empty() {
        return None;
    }
    find_operator(operators, token)
}

/// `POST /console/logout`: ends the session and forgets the cookie.
pub(crate) async fn logout(
    state: &Arc<State>,
    request: Request<Incoming>,
    id: &str,
    session: &Session,
) -> Response<ResponseBody> {
    let form = form::read(request).await.unwrap_or_default();
    if let Err(refused) = authorize(session, &form, &[]) {
        return refusal(session, refused);
    }
    state.console.end(id);
    let mut response = redirect("/console/login");
    if let Ok(cookie) = HeaderValue::from_str(&session::clear_cookie(
        state.config.gateway.control_tls.is_some(),
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /console/approvals/{id}/approve|deny`: CSRF, role, then the shared verdict path;
/// back to the approval page with a notice, or the page again with why it was refused.
pub(crate) async fn decide(
    state: &Arc<State>,
    request: Request<Incoming>,
    session: &Session,
    id: &ApprovalId,
    approve: bool,
) -> Response<ResponseBody> {
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let form = match form::read(request).await {
        Ok(form) => form,
        Err(error) => {
            return message(
                Some(session),
                StatusCode::BAD_REQUEST,
                "Bad request",
                &error.to_string(),
            );
        }
    };
    if let Err(refused) = authorize(session, &form, &[Role::Approver]) {
        return refusal(session, refused);
    }
    let caller = Caller {
        name: session.operator.clone(),
    };
    let decision = Decision {
        caller: &caller,
        approve,
        reason: form.field("reason").unwrap_or_default().trim(),
        method: &method,
        uri: &uri,
    };
    match decide_approval(state, id, decision).await {
        Ok(updated) => redirect(&format!(
            "/console/approvals/{id}?flash={}",
            flash_code(updated.status)
        )),
        Err(ControlError::Conflict { reason }) => {
            let notice = Some(Notice::Failed(&reason));
            approval_page(state, session, id, notice, StatusCode::CONFLICT).await
        }
        Err(ControlError::NotFound) => message(
            Some(session),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such approval.",
        ),
        Err(error) => {
            tracing::error!(%error, "console: cannot record a verdict");
            crate::control::console::unavailable(session)
        }
    }
}

/// Whether `session` may make a change with `form`: the CSRF token first (so a forged
/// post learns nothing about roles), then one of `roles` (none needed when empty).
pub(crate) fn authorize(session: &Session, form: &Form, roles: &[Role]) -> Result<(), Refused> {
    let token = form.field("csrf").unwrap_or_default();
    if !session.csrf_matches(token) {
        return Err(Refused::Csrf);
    }
    if !roles.is_empty() && !session.has_any(roles) {
        return Err(Refused::Role);
    }
    Ok(())
}

fn refusal(session: &Session, refused: Refused) -> Response<ResponseBody> {
    let text = match refused {
        Refused::Csrf => "The form did not come from this session; reload the page and try again.",
        Refused::Role => "Deciding approvals needs the approver role.",
    };
    message(Some(session), StatusCode::FORBIDDEN, "Forbidden", text)
}

fn flash_code(status: ApprovalStatus) -> &'static str {
    match status {
        ApprovalStatus::Pending => "recorded",
        ApprovalStatus::Denied => "denied",
        _ => "approved",
    }
}
