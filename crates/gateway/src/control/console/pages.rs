//! The console's pages as plain functions from data to HTML: sign-in, the overview
//! (pending approvals, recent events, workflows) and one approval with its decision form.
//! Written as maud templates: every value that came from a call, an agent or the store
//! is spliced in as text and escaped by its type.

use gatehouse_core::approval::{Approval, ApprovalStatus};
use gatehouse_core::event::Event;
use gatehouse_core::workflow::Workflow;

use maud::{Markup, html};

use crate::control::console::html::{
    badge, code, csrf_field, fields, or_dash, page, table, text, utc,
};

/// Who is looking, as the page needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Viewer<'a> {
    pub(crate) operator: &'a str,
    pub(crate) csrf: &'a str,
}

/// A one-line notice above a page's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notice<'a> {
    Done(&'a str),
    Failed(&'a str),
}

/// What the overview shows; sections the viewer may not read are `None`.
#[derive(Debug)]
pub(crate) struct Overview {
    pub(crate) pending: Vec<Approval>,
    pub(crate) events: Option<Vec<Event>>,
    pub(crate) workflows: Option<Vec<Workflow>>,
}

/// The sign-in form, with an error after a wrong token.
pub(crate) fn login(error: Option<&str>) -> String {
    let body = html! {
        div.login {
            h1 { "Sign in" }
            @if let Some(error) = error { (notice(Notice::Failed(error))) }
            form method="post" action="/console/login" {
                label for="token" { "Operator token" }
                input type="password" id="token" name="token" autocomplete="off" required autofocus;
                button type="submit" { "Sign in" }
            }
            p.muted { "The token an administrator issued you; only its SHA-256 is in the config." }
        }
    };
    page("Sign in", None, body)
}

/// The overview: pending approvals, then recent events and workflows.
pub(crate) fn overview(viewer: Viewer<'_>, data: &Overview) -> String {
    let body = html! {
        h1 { "Overview" }
        p {
            a href="/console/quarantines" { "Quarantines" } " · "
            a href="/console/recordings" { "Recordings" } " · "
            a href="/console/playbooks" { "Playbook runs" } " · "
            a href="/console/tail" { "Live tail" } " · "
            a href="/console/patterns" { "Call patterns" } " · "
            a href="/console/inventory" { "Inventory" }
        }
        h2 { "Pending approvals" }
        (pending(&data.pending))
        @if let Some(events) = &data.events {
            h2 { "Recent events" }
            (recent_events(events))
        }
        @if let Some(workflows) = &data.workflows {
            h2 { "Workflows" }
            (workflow_budgets(workflows))
        }
    };
    page("Overview", Some((viewer.operator, viewer.csrf)), body)
}

/// One approval, the whole call, and for approvers the form to decide it.
pub(crate) fn approval(
    viewer: Viewer<'_>,
    approval: &Approval,
    can_decide: bool,
    notice_shown: Option<Notice<'_>>,
) -> String {
    let body = html! {
        p { a href="/console" { "← Overview" } }
        h1 { "Approval " (code(&approval.id)) }
        @if let Some(shown) = notice_shown { (notice(shown)) }
        (fields(&call_fields(approval)))
        h2 { "Request body" }
        (body_text(&approval.call.body))
        @if let Some(response) = &approval.response {
            h2 { "Response" }
            p { "status " (response.status) }
            (body_text(&response.body))
        }
        @if can_decide && approval.status == ApprovalStatus::Pending {
            (decide_form(&approval.id, viewer.csrf))
        }
        h2 { "Verdicts" }
        (verdicts(approval))
    };
    page("Approval", Some((viewer.operator, viewer.csrf)), body)
}

/// A page with one message, for not-found and refusals.
pub(crate) fn message(viewer: Option<Viewer<'_>>, title: &str, text: &str) -> String {
    let body = html! {
        h1 { (title) }
        p { (text) }
        p { a href="/console" { "Overview" } }
    };
    page(title, viewer.map(|v| (v.operator, v.csrf)), body)
}

/// A body as text when it is UTF-8, else its size.
pub(crate) fn body_text(body: &[u8]) -> Markup {
    html! {
        @if body.is_empty() {
            p.empty { "empty" }
        } @else {
            @match std::str::from_utf8(body) {
                Ok(text) => pre { (text) },
                Err(_) => p { (body.len()) " bytes of binary" },
            }
        }
    }
}

fn notice(shown: Notice<'_>) -> Markup {
    let (class, text) = match shown {
        Notice::Done(text) => ("ok", text),
        Notice::Failed(text) => ("bad", text),
    };
    html! { p class={ "flash " (class) } role="status" { (text) } }
}

fn pending(approvals: &[Approval]) -> Markup {
    let rows: Vec<Vec<Markup>> = approvals
        .iter()
        .map(|approval| {
            let call = &approval.call;
            let short = approval.id.get(..8).unwrap_or(&approval.id);
            vec![
                html! { a href={ "/console/approvals/" (approval.id) } { (code(short)) } },
                text(&approval.agent),
                text(&approval.workflow),
                code(&call.intent),
                text(&call.tool),
                code(&format!("{} {}", call.method, call.path)),
                badge(approval.tier.as_str()),
                text(&utc(approval.created_at)),
                text(&utc(approval.expires_at)),
                text(&format!("{} / {}", approval.approvals(), approval.required)),
            ]
        })
        .collect();
    let headings = [
        "Approval",
        "Agent",
        "Workflow",
        "Intent",
        "Tool",
        "Call",
        "Tier",
        "Created",
        "Expires",
        "Approvals",
    ];
    table(&headings, &rows, "Nothing is waiting for approval.")
}

fn recent_events(events: &[Event]) -> Markup {
    let rows: Vec<Vec<Markup>> = events
        .iter()
        .map(|event| {
            vec![
                text(&utc(event.time_ms.div_euclid(1000))),
                code(&event.id.to_string()),
                badge(event.outcome.as_str()),
                or_dash(event.agent.as_deref()),
                or_dash(event.tool.as_deref()),
                or_dash(event.intent.as_deref()),
                text(&why(event)),
            ]
        })
        .collect();
    let headings = [
        "Time (UTC)",
        "Decision",
        "Outcome",
        "Agent",
        "Tool",
        "Intent",
        "Why",
    ];
    table(&headings, &rows, "No events yet.")
}

fn workflow_budgets(workflows: &[Workflow]) -> Markup {
    let rows: Vec<Vec<Markup>> = workflows
        .iter()
        .map(|workflow| {
            let (budget, usage) = (workflow.budget, workflow.usage);
            vec![
                text(workflow.id.as_str()),
                text(workflow.agent.as_str()),
                text(workflow.task_class.as_str()),
                text(&format!("{} / {}", usage.calls, budget.calls)),
                text(&format!("{} / {}", usage.writes, budget.writes)),
                text(&format!("{} / {}", usage.bytes, budget.bytes)),
                badge(workflow.status.as_str()),
                text(&utc(workflow.expires_at)),
            ]
        })
        .collect();
    let headings = [
        "Workflow",
        "Agent",
        "Task class",
        "Calls",
        "Writes",
        "Bytes",
        "Status",
        "Expires",
    ];
    table(&headings, &rows, "No workflows yet.")
}

fn call_fields(approval: &Approval) -> Vec<(&'static str, Markup)> {
    let call = &approval.call;
    // Paired for the two-column grid: each line reads as one row.
    vec![
        ("Status", badge(approval.status.as_str())),
        (
            "Approvals",
            text(&format!(
                "{} of {} required",
                approval.approvals(),
                approval.required
            )),
        ),
        ("Agent", text(&approval.agent)),
        ("Workflow", text(&approval.workflow)),
        ("Intent", code(&call.intent)),
        ("Task class", text(&approval.task_class)),
        ("Tool", text(&call.tool)),
        ("Tier", badge(approval.tier.as_str())),
        ("Method", code(&call.method)),
        ("Path", code(&call.path)),
        (
            "Query",
            call.query.as_deref().map_or_else(|| text("–"), code),
        ),
        ("Content type", or_dash(call.content_type.as_deref())),
        ("Created", text(&utc(approval.created_at))),
        ("Expires", text(&utc(approval.expires_at))),
        ("Decision", code(&approval.decision.to_string())),
        ("Policies", code(&approval.policies.join(", "))),
        ("Policy version", code(&approval.policy_version)),
    ]
}

fn verdicts(approval: &Approval) -> Markup {
    let rows: Vec<Vec<Markup>> = approval
        .verdicts
        .iter()
        .map(|verdict| {
            let word = if verdict.approve {
                "approved"
            } else {
                "denied"
            };
            vec![
                text(&verdict.by),
                badge(word),
                text(&verdict.reason),
                text(&utc(verdict.at)),
            ]
        })
        .collect();
    table(
        &["By", "Verdict", "Reason", "At (UTC)"],
        &rows,
        "No verdicts yet.",
    )
}

fn decide_form(id: &str, csrf: &str) -> Markup {
    html! {
        form.decide method="post" action={ "/console/approvals/" (id) "/approve" } {
            (csrf_field(csrf))
            label for="reason" { "Reason" }
            input type="text" id="reason" name="reason" maxlength="500" autocomplete="off";
            div {
                button.approve type="submit" { "Approve" }
                button.deny type="submit" formaction={ "/console/approvals/" (id) "/deny" } { "Deny" }
            }
        }
    }
}

fn why(event: &Event) -> String {
    let policies = event.policies.join(", ");
    match (&event.refusal, policies.is_empty(), &event.actor) {
        (Some(refusal), true, _) => refusal.to_string(),
        (Some(refusal), false, _) => format!("{refusal} [{policies}]"),
        (None, false, _) => format!("[{policies}]"),
        (None, true, Some(actor)) => format!("by {actor}"),
        (None, true, None) => String::new(),
    }
}
