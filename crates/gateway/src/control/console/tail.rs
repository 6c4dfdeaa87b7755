//! The live tail page (`/console/tail`, auditors and operators): the event log as it is
//! written, with the events query's filters. No script: the page is one HTML response
//! that never ends while the tail is open; each stored event that passes the filters is
//! appended as a list item the browser renders as it arrives (the same tail as
//! `GET /v1/events/stream`, `tail.rs`, framed as HTML). Values are escaped by maud.

use std::sync::Arc;

use bytes::Bytes;
use gatehouse_core::event::Event;
use gatehouse_store::StoredLine;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;
use maud::html;

use super::html::{badge, code, page, utc};
use super::session::Session;
use super::{AUDITORS, forbidden, message, unavailable, viewer};
use crate::body::{Prefixed, ResponseBody};
use crate::control::{blocking, query};
use crate::state::State;
use crate::tail::Framing;

/// The console's frames: one `<li>` per event.
const HTML: Framing = Framing {
    frame: row,
    keep_alive: b"<!-- keep-alive -->\n",
    store_down:
        b"<li class=\"bad\">The event store is unavailable: reload the page to resume.</li>\n",
};

pub(super) async fn show(
    state: &Arc<State>,
    session: &Session,
    query: Option<&str>,
) -> Response<ResponseBody> {
    if !session.has_any(&AUDITORS) {
        return forbidden(session, "This page needs the auditor or operator role.");
    }
    let query = query.unwrap_or("");
    let filter = match query::event_filter(query) {
        Ok(filter) => filter,
        Err(error) => {
            return message(
                Some(session),
                StatusCode::BAD_REQUEST,
                "Bad filter",
                &error.to_string(),
            );
        }
    };
    // Subscribed before the head is read, so no batch falls between the two.
    let stored = state.events.stored();
    let store = Arc::clone(&state.store);
    let start = match blocking(move || store.head_position()).await {
        Ok(start) => start,
        Err(error) => {
            tracing::error!(%error, "console: cannot open a live tail");
            return unavailable(session);
        }
    };
    let events = state.tails.open(
        Arc::clone(&state.store),
        stored,
        filter.clone(),
        start,
        HTML,
    );
    // The page's head, then its events as they come.
    let body = Prefixed::new(Bytes::from(head(session, &filter)), events);
    let mut response = Response::new(body.boxed());
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// The page up to its open list of events: the whole page, cut before the list's end.
fn head(session: &Session, filter: &gatehouse_core::event::EventFilter) -> String {
    let shown = viewer(session);
    fn value<T: ToString>(field: &Option<T>) -> String {
        field.as_ref().map(ToString::to_string).unwrap_or_default()
    }
    let body = html! {
        h1 { "Live tail" }
        p {
            a href="/console" { "Overview" } " · "
            a href="/console/quarantines" { "Quarantines" } " · "
            a href="/console/recordings" { "Recordings" } " · "
            a href="/console/playbooks" { "Playbook runs" } " · "
            a href="/console/patterns" { "Call patterns" } " · "
            a href="/console/inventory" { "Inventory" }
        }
        form.filters method="get" action="/console/tail" {
            input type="text" name="agent" placeholder="agent" value=(value(&filter.agent));
            input type="text" name="tool" placeholder="tool" value=(value(&filter.tool));
            input type="text" name="intent" placeholder="intent" value=(value(&filter.intent));
            input type="text" name="outcome" placeholder="outcome" value=(filter.outcome.map(|o| o.as_str()).unwrap_or_default());
            button type="submit" { "Filter" }
        }
        p.muted { "Events stored from now on appear below as they are written, oldest first." }
        ol.tail id="tail" {}
    };
    let whole = page("Live tail", Some((shown.operator, shown.csrf)), body);
    // INVARIANT: the template above ends its list with the page's last `</ol>`.
    let cut = whole.rfind("</ol>").unwrap_or(whole.len());
    whole.get(..cut).unwrap_or_default().to_owned()
}

/// One event as a list item: when, outcome, who, what and how it ended.
fn row(line: &StoredLine, event: &Event) -> Bytes {
    let dash = "–";
    let markup = html! {
        li id={ "event-" (line.position) } {
            span.muted { (utc(event.time_ms.div_euclid(1000))) } " "
            (badge(event.outcome.as_str())) " "
            b { (event.agent.as_deref().unwrap_or(dash)) } " "
            (event.method) " " (code(&event.path)) " "
            span.intent { (event.intent.as_deref().unwrap_or(dash)) } " "
            (event.status)
            @if let Some(refusal) = &event.refusal { " " span.refusal { (refusal) } }
            @if let Some(risk) = &event.risk { " risk " span.risk { (risk.class) } }
            " " (code(&event.id.to_string()))
        }
    };
    let mut text = markup.into_string();
    text.push('\n');
    Bytes::from(text)
}

#[cfg(test)]
mod tests {
    use gatehouse_core::event::{EventKind, Outcome};
    use gatehouse_core::ids::DecisionId;
    use gatehouse_core::model::AgentId;

    use super::*;

    #[test]
    fn a_row_escapes_what_came_from_outside_and_names_the_decision() {
        let mut event = Event {
            method: "GET".to_owned(),
            path: "/tools/t/<script>alert(1)</script>".to_owned(),
            ..Event::blank(DecisionId::from_u128(7), 1_764_000_000_000, EventKind::Tool)
        };
        event.agent = Some(AgentId::new("a\"><img src=x>"));
        event.outcome = Outcome::Allow;
        let line = StoredLine {
            position: "3.1".parse().unwrap(),
            line: String::new(),
        };
        let text = String::from_utf8(row(&line, &event).to_vec()).unwrap();
        assert!(
            !text.contains("<script>") && !text.contains("<img"),
            "{text}"
        );
        assert!(text.contains("&lt;script&gt;") && text.contains(&event.id.to_string()));
        assert!(text.starts_with("<li id=\"event-3.1\">"), "{text}");
    }
}
