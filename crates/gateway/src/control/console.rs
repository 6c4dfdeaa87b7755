//! The web console on the control-plane listener, under `/console`: operators sign in
//! with their token, see pending approvals, recent events and workflow budgets, and
//! approvers approve or deny a parked call after reading it whole; auditors see the
//! incident pages, a live tail of the event log, each agent's call patterns (SVG charts
//! against its baseline) and the inventory.
//!
//! Server-rendered HTML without any JavaScript; every response carries a CSP that would
//! refuse scripts anyway. Sessions live in memory ([`Sessions`]); every change is a form
//! post carrying the session's CSRF token. A verdict goes through
//! `control::decide_approval`, the same code path as the JSON API.

mod actions;
mod chart;
mod form;
mod html;
mod incident;
mod inventory;
mod pages;
mod patterns;
mod tail;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use bytes::Bytes;
use gatehouse_core::approval::{ApprovalStatus, Checkpoint};
use gatehouse_core::config::Role;
use gatehouse_core::event::{Event, EventFilter};
use gatehouse_core::ids::ApprovalId;
use gatehouse_core::workflow::Workflow;
use gatehouse_store::{ApprovalFilter, WorkflowFilter};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::body::{ResponseBody, full};
use crate::control::console::pages::{Notice, Overview, Viewer};
use crate::control::{ControlError, blocking};
use crate::sessions::{self as session, Session};
use crate::state::State;

pub use crate::sessions::Sessions;

/// Who may read approvals (as on the JSON API).
const READERS: [Role; 3] = [Role::Approver, Role::Operator, Role::Auditor];
/// Who may read events and workflows (as on the JSON API).
const AUDITORS: [Role; 2] = [Role::Auditor, Role::Operator];
/// How many recent events the overview shows.
const RECENT_EVENTS: u32 = 25;

/// Headers on every console response: no scripts, no framing, no caching, no referrer.
const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-store"),
    ("referrer-policy", "no-referrer"),
];

/// Routes one `/console…` request.
pub async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response<ResponseBody> {
    let mut response = route(&state, request).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A console page, from method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Page {
    LoginForm,
    Login,
    Logout,
    Overview,
    Approval(ApprovalId),
    Decide { id: ApprovalId, approve: bool },
    Incident(incident::Incident),
    Tail,
    Patterns,
    Inventory,
    NotFound,
}

impl Page {
    fn parse(method: &Method, path: &str) -> Self {
        let path = path.trim_end_matches('/');
        let post = method == Method::POST;
        match (method.as_str(), path) {
            ("GET", "/console/login") => return Self::LoginForm,
            ("POST", "/console/login") => return Self::Login,
            ("POST", "/console/logout") => return Self::Logout,
            ("GET", "/console") => return Self::Overview,
            ("GET", "/console/tail") => return Self::Tail,
            ("GET", "/console/patterns") => return Self::Patterns,
            ("GET", "/console/inventory") => return Self::Inventory,
            _ => {}
        }
        if method == Method::GET
            && let Some(page) = incident::Incident::parse(path)
        {
            return Self::Incident(page);
        }
        let Some(rest) = path.strip_prefix("/console/approvals/") else {
            return Self::NotFound;
        };
        match rest.split_once('/') {
            None if !post && is_id(rest) => Self::Approval(rest.into()),
            Some((id, verb)) if post && is_id(id) && (verb == "approve" || verb == "deny") => {
                Self::Decide {
                    id: id.into(),
                    approve: verb == "approve",
                }
            }
            _ => Self::NotFound,
        }
    }
}

/// Approval ids are hex; anything else cannot name one, and never reaches a header.
fn is_id(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.bytes().all(|byte| byte.is_ascii_alphanumeric())
}

async fn route(state: &Arc<State>, request: Request<Incoming>) -> Response<ResponseBody> {
    let page = Page::parse(request.method(), request.uri().path());
    match page {
        Page::LoginForm => html(StatusCode::OK, pages::login(None)),
        Page::Login => actions::login(state, request).await,
        page => {
            let now = state.clock.now().secs();
            let found = session::cookie_value(request.headers())
                .and_then(|id| state.console.find(&id, now).map(|session| (id, session)));
            match found {
                Some((id, session)) => signed_in(state, request, page, &id, &session).await,
                None => redirect("/console/login"),
            }
        }
    }
}

async fn signed_in(
    state: &Arc<State>,
    request: Request<Incoming>,
    page: Page,
    id: &str,
    session: &Session,
) -> Response<ResponseBody> {
    match page {
        Page::Overview => overview(state, session).await,
        Page::Logout => actions::logout(state, request, id, session).await,
        Page::Approval(approval) => {
            let notice = flash(request.uri().query());
            approval_page(state, session, &approval, notice, StatusCode::OK).await
        }
        Page::Decide { id, approve } => {
            actions::decide(state, request, session, &id, approve).await
        }
        Page::Incident(page) => incident::show(state, session, page).await,
        Page::Tail => tail::show(state, session, request.uri().query()).await,
        Page::Patterns => patterns::show(state, session, request.uri().query()).await,
        Page::Inventory => inventory::show(state, session, request.uri().query()).await,
        Page::LoginForm | Page::Login | Page::NotFound => message(
            Some(session),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page.",
        ),
    }
}

async fn overview(state: &Arc<State>, session: &Session) -> Response<ResponseBody> {
    match load_overview(state, session).await {
        Ok(data) => html(StatusCode::OK, pages::overview(viewer(session), &data)),
        Err(error) => {
            tracing::error!(%error, "console: cannot load the overview");
            unavailable(session)
        }
    }
}

/// What the overview shows, limited to what the session's roles may read.
async fn load_overview(state: &Arc<State>, session: &Session) -> Result<Overview, ControlError> {
    let mut data = Overview {
        pending: Vec::new(),
        events: None,
        workflows: None,
    };
    if session.has_any(&READERS) {
        let filter = ApprovalFilter {
            status: Some(ApprovalStatus::Pending),
            checkpoint: Some(Checkpoint::Approval),
            ..ApprovalFilter::default()
        };
        data.pending = state
            .approvals
            .list(filter)
            .await
            .map_err(unavailable_store)?;
    }
    if session.has_any(&AUDITORS) {
        data.events = Some(recent_events(state).await?);
        data.workflows = Some(workflows(state).await?);
    }
    Ok(data)
}

async fn recent_events(state: &Arc<State>) -> Result<Vec<Event>, ControlError> {
    let store = Arc::clone(&state.store);
    let filter = EventFilter {
        limit: Some(RECENT_EVENTS),
        ..EventFilter::default()
    };
    blocking(move || store.query_events(&filter)).await
}

async fn workflows(state: &Arc<State>) -> Result<Vec<Workflow>, ControlError> {
    // Usage is written behind; flush so the page shows what was spent up to now.
    state.workflows.flush().await.map_err(unavailable_store)?;
    let store = Arc::clone(&state.store);
    let stored = blocking(move || store.list_workflows(&WorkflowFilter::default())).await?;
    Ok(state.workflows.as_held(stored))
}

fn unavailable_store(error: impl std::fmt::Display) -> ControlError {
    ControlError::Unavailable {
        reason: error.to_string(),
    }
}

/// The approval page, with `notice` above it, answered with `status`.
async fn approval_page(
    state: &Arc<State>,
    session: &Session,
    id: &ApprovalId,
    notice: Option<Notice<'_>>,
    status: StatusCode,
) -> Response<ResponseBody> {
    if !session.has_any(&READERS) {
        return forbidden(session, "Reading approvals needs a role.");
    }
    let approval = match state.approvals.get(id).await {
        Ok(Some(approval)) if approval.checkpoint == Checkpoint::Approval => approval,
        Ok(_) => {
            return message(
                Some(session),
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no such approval.",
            );
        }
        Err(error) => {
            tracing::error!(%error, "console: cannot read an approval");
            return unavailable(session);
        }
    };
    let can_decide = session.has_any(&[Role::Approver]);
    let page = pages::approval(viewer(session), &approval, can_decide, notice);
    html(status, page)
}

/// The fixed notice a redirect after a verdict asks for; unknown codes show nothing, so
/// a crafted link cannot put words on the page.
fn flash(query: Option<&str>) -> Option<Notice<'static>> {
    let code = gatehouse_core::form::pairs(query?)
        .filter_map(Result::ok)
        .find_map(|(key, value)| (key == "flash").then_some(value))?;
    Some(Notice::Done(match code.as_str() {
        "approved" => "Approved: Gatehouse is running the call now.",
        "recorded" => "Your approval is recorded; another approver is needed.",
        "denied" => "Denied: the call will not run.",
        _ => return None,
    }))
}

fn viewer(session: &Session) -> Viewer<'_> {
    Viewer {
        operator: &session.operator,
        csrf: &session.csrf,
    }
}

fn message(
    session: Option<&Session>,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response<ResponseBody> {
    html(status, pages::message(session.map(viewer), title, text))
}

fn forbidden(session: &Session, text: &str) -> Response<ResponseBody> {
    message(Some(session), StatusCode::FORBIDDEN, "Forbidden", text)
}

fn unavailable(session: &Session) -> Response<ResponseBody> {
    message(
        Some(session),
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        "The store is unavailable; try again shortly.",
    )
}

fn html(status: StatusCode, page: String) -> Response<ResponseBody> {
    let mut response = Response::new(full(Bytes::from(page)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// `303 See Other` to `location`, which the console built from literals and checked ids.
fn redirect(location: &str) -> Response<ResponseBody> {
    let mut response = html(StatusCode::SEE_OTHER, String::new());
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
