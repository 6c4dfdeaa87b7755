//! The incident pages (auditors and operators): quarantines in force, forensic
//! recordings (a list, and one call as it crossed the gateway) and playbook runs, as maud
//! templates: every value is escaped by its type; the pages change nothing.

use std::sync::Arc;

use gatehouse_store::Recording;
use http::StatusCode;

use maud::{Markup, html};

use super::html::{code, or_dash, page, table, text, utc};
use super::pages::Viewer;
use super::session::Session;
use super::{AUDITORS, forbidden, message, unavailable, viewer};
use crate::body::ResponseBody;
use crate::control::blocking;
use crate::control::playbooks::{self, Run};
use crate::state::State;

/// How many recordings the list shows.
const LISTED: u32 = 50;

/// The links between the incident pages, under each page's title.
fn nav() -> Markup {
    html! {
        p {
            a href="/console" { "Overview" } " · "
            a href="/console/quarantines" { "Quarantines" } " · "
            a href="/console/recordings" { "Recordings" } " · "
            a href="/console/playbooks" { "Playbook runs" } " · "
            a href="/console/tail" { "Live tail" } " · "
            a href="/console/patterns" { "Call patterns" } " · "
            a href="/console/inventory" { "Inventory" }
        }
    }
}

/// Which incident page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Incident {
    Quarantines,
    Recordings,
    Recording(String),
    PlaybookRuns,
}

impl Incident {
    pub(super) fn parse(path: &str) -> Option<Self> {
        match path {
            "/console/quarantines" => Some(Self::Quarantines),
            "/console/recordings" => Some(Self::Recordings),
            "/console/playbooks" => Some(Self::PlaybookRuns),
            _ => {
                let id = path.strip_prefix("/console/recordings/")?;
                gatehouse_core::ids::DecisionId::parse(id)?;
                Some(Self::Recording(id.to_owned()))
            }
        }
    }
}

pub(super) async fn show(
    state: &Arc<State>,
    session: &Session,
    incident: Incident,
) -> http::Response<ResponseBody> {
    if !session.has_any(&AUDITORS) {
        return forbidden(session, "These pages need the auditor or operator role.");
    }
    let shown = viewer(session);
    let rendered = match incident {
        Incident::Quarantines => Ok(Some(quarantines(state, shown))),
        Incident::Recordings => recordings(state, shown).await.map(Some),
        Incident::Recording(id) => recording(state, shown, id).await,
        Incident::PlaybookRuns => playbooks::runs(state, None)
            .await
            .map(|runs| Some(runs_page(shown, &runs))),
    };
    match rendered {
        Ok(Some(page)) => super::html(StatusCode::OK, page),
        Ok(None) => message(
            Some(session),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such recording.",
        ),
        Err(error) => {
            tracing::error!(%error, "console: cannot load an incident page");
            unavailable(session)
        }
    }
}

fn quarantines(state: &State, shown: Viewer<'_>) -> String {
    let live = state.quarantines.list(state.clock.now().millis());
    let rows: Vec<Vec<Markup>> = live
        .iter()
        .map(|quarantine| {
            vec![
                code(&quarantine.id),
                text(quarantine.kind.as_str()),
                text(&quarantine.subject),
                text(&quarantine.reason),
                text(&quarantine.by),
                text(&utc(quarantine.at_ms.div_euclid(1000))),
                text(&utc(quarantine.until_ms.div_euclid(1000))),
            ]
        })
        .collect();
    let headings = ["Id", "Kind", "Subject", "Reason", "By", "Since", "Until"];
    let body = html! {
        h1 { "Quarantines" }
        (nav())
        (table(&headings, &rows, "No quarantine is in force."))
    };
    page("Quarantines", Some((shown.operator, shown.csrf)), body)
}

async fn recordings(
    state: &Arc<State>,
    shown: Viewer<'_>,
) -> Result<String, crate::control::ControlError> {
    let store = Arc::clone(&state.store);
    let listed = blocking(move || store.recordings(None, LISTED)).await?;
    let rows: Vec<Vec<Markup>> = listed
        .iter()
        .map(|recording| {
            let first = recording.request.lines().next().unwrap_or_default();
            vec![
                text(&utc(recording.time_ms.div_euclid(1000))),
                html! { a href={ "/console/recordings/" (recording.id) } { (recording.id) } },
                text(&recording.agent),
                text(&recording.tool),
                code(first),
            ]
        })
        .collect();
    let headings = ["Time (UTC)", "Decision", "Agent", "Tool", "Request"];
    let body = html! {
        h1 { "Recordings" }
        (nav())
        (table(&headings, &rows, "No call has been recorded."))
    };
    Ok(page("Recordings", Some((shown.operator, shown.csrf)), body))
}

async fn recording(
    state: &Arc<State>,
    shown: Viewer<'_>,
    id: String,
) -> Result<Option<String>, crate::control::ControlError> {
    let store = Arc::clone(&state.store);
    let found: Option<Recording> = blocking(move || store.recording(&id)).await?;
    Ok(found.map(|recording| {
        let body = html! {
            h1 { "Recorded call" }
            (nav())
            p {
                (code(&recording.id)) " by " (recording.agent) " on " (recording.tool)
                " at " (utc(recording.time_ms.div_euclid(1000))) " UTC"
            }
            h2 { "Request" }
            pre { (recording.request) }
            h2 { "Response" }
            pre { (recording.response) }
        };
        page("Recorded call", Some((shown.operator, shown.csrf)), body)
    }))
}

fn runs_page(shown: Viewer<'_>, runs: &[Run]) -> String {
    let rows: Vec<Vec<Markup>> = runs
        .iter()
        .map(|run| {
            vec![
                text(&utc(run.started_ms.div_euclid(1000))),
                code(&run.run),
                text(&run.playbook),
                or_dash(run.actor.as_deref()),
                or_dash(run.agent.as_deref()),
                html! {
                    @for (index, step) in run.steps.iter().enumerate() {
                        @if index > 0 { br; }
                        (step)
                    }
                },
            ]
        })
        .collect();
    let headings = ["Started (UTC)", "Run", "Playbook", "By", "Agent", "Steps"];
    let body = html! {
        h1 { "Playbook runs" }
        (nav())
        (table(&headings, &rows, "No playbook has run."))
    };
    page("Playbook runs", Some((shown.operator, shown.csrf)), body)
}
