//! The incident pages (auditors and operators): quarantines in force, forensic
//! recordings (a list, and one call as it crossed the gateway) and playbook runs. Every
//! value is escaped by `html`'s functions; the pages change nothing.

use std::sync::Arc;

use gatehouse_store::Recording;
use http::StatusCode;

use super::html::{code, escape, or_dash, page, table, utc};
use super::pages::Viewer;
use super::session::Session;
use super::{AUDITORS, forbidden, html, message, unavailable, viewer};
use crate::body::ResponseBody;
use crate::control::blocking;
use crate::control::playbooks::{self, Run};
use crate::state::State;

/// How many recordings the list shows.
const LISTED: u32 = 50;

/// The links between the incident pages, under each page's title.
const NAV: &str = "<p><a href=\"/console\">Overview</a> · <a href=\"/console/quarantines\">\
     Quarantines</a> · <a href=\"/console/recordings\">Recordings</a> · \
     <a href=\"/console/playbooks\">Playbook runs</a></p>";

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
        Ok(Some(page)) => html(StatusCode::OK, page),
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
    let rows: Vec<Vec<String>> = live
        .iter()
        .map(|quarantine| {
            vec![
                code(&quarantine.id),
                escape(quarantine.kind.as_str()),
                escape(&quarantine.subject),
                escape(&quarantine.reason),
                escape(&quarantine.by),
                utc(quarantine.at_ms.div_euclid(1000)),
                utc(quarantine.until_ms.div_euclid(1000)),
            ]
        })
        .collect();
    let headings = ["Id", "Kind", "Subject", "Reason", "By", "Since", "Until"];
    let body = format!(
        "<h1>Quarantines</h1>{NAV}{}",
        table(&headings, &rows, "No quarantine is in force.")
    );
    page("Quarantines", Some((shown.operator, shown.csrf)), &body)
}

async fn recordings(
    state: &Arc<State>,
    shown: Viewer<'_>,
) -> Result<String, crate::control::ControlError> {
    let store = Arc::clone(&state.store);
    let listed = blocking(move || store.recordings(None, LISTED)).await?;
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|recording| {
            let first = recording.request.lines().next().unwrap_or_default();
            vec![
                utc(recording.time_ms.div_euclid(1000)),
                format!(
                    "<a href=\"/console/recordings/{0}\">{0}</a>",
                    escape(&recording.id)
                ),
                escape(&recording.agent),
                escape(&recording.tool),
                code(first),
            ]
        })
        .collect();
    let headings = ["Time (UTC)", "Decision", "Agent", "Tool", "Request"];
    let body = format!(
        "<h1>Recordings</h1>{NAV}{}",
        table(&headings, &rows, "No call has been recorded.")
    );
    Ok(page(
        "Recordings",
        Some((shown.operator, shown.csrf)),
        &body,
    ))
}

async fn recording(
    state: &Arc<State>,
    shown: Viewer<'_>,
    id: String,
) -> Result<Option<String>, crate::control::ControlError> {
    let store = Arc::clone(&state.store);
    let found: Option<Recording> = blocking(move || store.recording(&id)).await?;
    Ok(found.map(|recording| {
        let body = format!(
            "<h1>Recorded call</h1>{NAV}<p>{} by {} on {} at {} UTC</p>\
             <h2>Request</h2><pre>{}</pre><h2>Response</h2><pre>{}</pre>",
            code(&recording.id),
            escape(&recording.agent),
            escape(&recording.tool),
            utc(recording.time_ms.div_euclid(1000)),
            escape(&recording.request),
            escape(&recording.response),
        );
        page("Recorded call", Some((shown.operator, shown.csrf)), &body)
    }))
}

fn runs_page(shown: Viewer<'_>, runs: &[Run]) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|run| {
            let steps: Vec<String> = run.steps.iter().map(|step| escape(step)).collect();
            vec![
                utc(run.started_ms.div_euclid(1000)),
                code(&run.run),
                escape(&run.playbook),
                or_dash(run.actor.as_deref()),
                or_dash(run.agent.as_deref()),
                steps.join("<br>"),
            ]
        })
        .collect();
    let headings = ["Started (UTC)", "Run", "Playbook", "By", "Agent", "Steps"];
    let body = format!(
        "<h1>Playbook runs</h1>{NAV}{}",
        table(&headings, &rows, "No playbook has run.")
    );
    page("Playbook runs", Some((shown.operator, shown.csrf)), &body)
}
