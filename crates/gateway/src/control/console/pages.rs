//! The console's pages as plain functions from data to HTML: sign-in, the overview
//! (pending approvals, recent events, workflows) and one approval with its decision form.
//! Every value that came from a call, an agent or the store is escaped with [`escape`].

use gatehouse_core::approval::{Approval, ApprovalStatus};
use gatehouse_core::event::Event;
use gatehouse_core::workflow::Workflow;

use crate::control::console::html::{
    badge, code, csrf_field, escape, fields, or_dash, page, table, utc,
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
    let error = error.map_or_else(String::new, |text| notice(Notice::Failed(text)));
    let body = format!(
        "<div class=\"login\"><h1>Sign in</h1>{error}\
         <form method=\"post\" action=\"/console/login\">\
         <label for=\"token\">Operator token</label>\
         <input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\" required autofocus>\
         <button type=\"submit\">Sign in</button></form>\
         <p class=\"muted\">The token an administrator issued you; only its SHA-256 is in the config.</p></div>"
    );
    page("Sign in", None, &body)
}

/// The overview: pending approvals, then recent events and workflows.
pub(crate) fn overview(viewer: Viewer<'_>, data: &Overview) -> String {
    let mut body = String::from("<h1>Overview</h1><h2>Pending approvals</h2>");
    body.push_str(&pending(&data.pending));
    if let Some(events) = &data.events {
        body.push_str("<h2>Recent events</h2>");
        body.push_str(&recent_events(events));
    }
    if let Some(workflows) = &data.workflows {
        body.push_str("<h2>Workflows</h2>");
        body.push_str(&workflow_budgets(workflows));
    }
    page("Overview", Some((viewer.operator, viewer.csrf)), &body)
}

/// One approval, the whole call, and for approvers the form to decide it.
pub(crate) fn approval(
    viewer: Viewer<'_>,
    approval: &Approval,
    can_decide: bool,
    notice_shown: Option<Notice<'_>>,
) -> String {
    let mut body = format!(
        "<p><a href=\"/console\">← Overview</a></p><h1>Approval {}</h1>",
        code(&approval.id)
    );
    if let Some(shown) = notice_shown {
        body.push_str(&notice(shown));
    }
    body.push_str(&fields(&call_fields(approval)));
    body.push_str("<h2>Request body</h2>");
    body.push_str(&body_text(&approval.call.body));
    if let Some(response) = &approval.response {
        body.push_str(&format!(
            "<h2>Response</h2><p>status {}</p>{}",
            response.status,
            body_text(&response.body)
        ));
    }
    if can_decide && approval.status == ApprovalStatus::Pending {
        body.push_str(&decide_form(&approval.id, viewer.csrf));
    }
    body.push_str("<h2>Verdicts</h2>");
    body.push_str(&verdicts(approval));
    page("Approval", Some((viewer.operator, viewer.csrf)), &body)
}

/// A page with one message, for not-found and refusals.
pub(crate) fn message(viewer: Option<Viewer<'_>>, title: &str, text: &str) -> String {
    let body = format!(
        "<h1>{}</h1><p>{}</p><p><a href=\"/console\">Overview</a></p>",
        escape(title),
        escape(text)
    );
    page(title, viewer.map(|v| (v.operator, v.csrf)), &body)
}

/// A body as text when it is UTF-8, else its size.
pub(crate) fn body_text(body: &[u8]) -> String {
    if body.is_empty() {
        return "<p class=\"empty\">empty</p>".to_owned();
    }
    match std::str::from_utf8(body) {
        Ok(text) => format!("<pre>{}</pre>", escape(text)),
        Err(_) => format!("<p>{} bytes of binary</p>", body.len()),
    }
}

fn notice(shown: Notice<'_>) -> String {
    let (class, text) = match shown {
        Notice::Done(text) => ("ok", text),
        Notice::Failed(text) => ("bad", text),
    };
    format!(
        "<p class=\"flash {class}\" role=\"status\">{}</p>",
        escape(text)
    )
}

fn pending(approvals: &[Approval]) -> String {
    let rows: Vec<Vec<String>> = approvals
        .iter()
        .map(|approval| {
            let call = &approval.call;
            vec![
                format!(
                    "<a href=\"/console/approvals/{0}\">{1}</a>",
                    escape(&approval.id),
                    code(approval.id.get(..8).unwrap_or(&approval.id))
                ),
                escape(&approval.agent),
                escape(&approval.workflow),
                code(&call.intent),
                escape(&call.tool),
                code(&format!("{} {}", call.method, call.path)),
                badge(approval.tier.as_str()),
                utc(approval.created_at),
                utc(approval.expires_at),
                format!("{} / {}", approval.approvals(), approval.required),
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

fn recent_events(events: &[Event]) -> String {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|event| {
            vec![
                utc(event.time_ms.div_euclid(1000)),
                code(&event.id.to_string()),
                badge(event.outcome.as_str()),
                or_dash(event.agent.as_deref()),
                or_dash(event.tool.as_deref()),
                or_dash(event.intent.as_deref()),
                escape(&why(event)),
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

fn workflow_budgets(workflows: &[Workflow]) -> String {
    let rows: Vec<Vec<String>> = workflows
        .iter()
        .map(|workflow| {
            let (budget, usage) = (workflow.budget, workflow.usage);
            vec![
                escape(workflow.id.as_str()),
                escape(workflow.agent.as_str()),
                escape(workflow.task_class.as_str()),
                format!("{} / {}", usage.calls, budget.calls),
                format!("{} / {}", usage.writes, budget.writes),
                format!("{} / {}", usage.bytes, budget.bytes),
                badge(workflow.status.as_str()),
                utc(workflow.expires_at),
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

fn call_fields(approval: &Approval) -> Vec<(&'static str, String)> {
    let call = &approval.call;
    // Paired for the two-column grid: each line reads as one row.
    vec![
        ("Status", badge(approval.status.as_str())),
        (
            "Approvals",
            format!("{} of {} required", approval.approvals(), approval.required),
        ),
        ("Agent", escape(&approval.agent)),
        ("Workflow", escape(&approval.workflow)),
        ("Intent", code(&call.intent)),
        ("Task class", escape(&approval.task_class)),
        ("Tool", escape(&call.tool)),
        ("Tier", badge(approval.tier.as_str())),
        ("Method", code(&call.method)),
        ("Path", code(&call.path)),
        (
            "Query",
            call.query.as_deref().map_or_else(|| "–".to_owned(), code),
        ),
        ("Content type", or_dash(call.content_type.as_deref())),
        ("Created", utc(approval.created_at)),
        ("Expires", utc(approval.expires_at)),
        ("Decision", code(&approval.decision.to_string())),
        ("Policies", code(&approval.policies.join(", "))),
        ("Policy version", code(&approval.policy_version)),
    ]
}

fn verdicts(approval: &Approval) -> String {
    let rows: Vec<Vec<String>> = approval
        .verdicts
        .iter()
        .map(|verdict| {
            let word = if verdict.approve {
                "approved"
            } else {
                "denied"
            };
            vec![
                escape(&verdict.by),
                badge(word),
                escape(&verdict.reason),
                utc(verdict.at),
            ]
        })
        .collect();
    table(
        &["By", "Verdict", "Reason", "At (UTC)"],
        &rows,
        "No verdicts yet.",
    )
}

fn decide_form(id: &str, csrf: &str) -> String {
    let id = escape(id);
    format!(
        "<form class=\"decide\" method=\"post\" action=\"/console/approvals/{id}/approve\">{}\
         <label for=\"reason\">Reason</label>\
         <input type=\"text\" id=\"reason\" name=\"reason\" maxlength=\"500\" autocomplete=\"off\">\
         <div><button type=\"submit\" class=\"approve\">Approve</button>\
         <button type=\"submit\" class=\"deny\" formaction=\"/console/approvals/{id}/deny\">Deny</button></div>\
         </form>",
        csrf_field(csrf)
    )
}

fn why(event: &Event) -> String {
    let policies = event.policies.join(", ");
    match (&event.refusal, policies.is_empty(), &event.actor) {
        (Some(refusal), true, _) => refusal.clone(),
        (Some(refusal), false, _) => format!("{refusal} [{policies}]"),
        (None, false, _) => format!("[{policies}]"),
        (None, true, Some(actor)) => format!("by {actor}"),
        (None, true, None) => String::new(),
    }
}
