//! The inventory page (`/console/inventory`, auditors and operators): what
//! `gatehouse inventory` prints, as tables. Computed by the same code
//! (`gatehouse_core::inventory::Inventory`) from the running configuration, the observe
//! set in force and the newest recorded events of the window (`?window=7d` by default,
//! read like the call-pattern page's; at most `MAX_LIMIT` events, as the CLI reads
//! them through the events API). Each agent links to its call patterns.

use std::sync::Arc;

use gatehouse_core::event::EventFilter;
use gatehouse_core::form::distinct_pairs;
use gatehouse_core::inventory::{Inventory, RouteUse, Unmapped};
use gatehouse_store::MAX_LIMIT;
use http::{Response, StatusCode};
use maud::{Markup, html};

use super::html::{badge, code, page, table, text};
use super::patterns::link;
use super::patterns::query::{QueryError, window};
use super::session::Session;
use super::{AUDITORS, forbidden, message, unavailable, viewer};
use crate::body::ResponseBody;
use crate::control::blocking;
use crate::state::State;

const DEFAULT_WINDOW: &str = "7d";

pub(super) async fn show(
    state: &Arc<State>,
    session: &Session,
    query: Option<&str>,
) -> Response<ResponseBody> {
    if !session.has_any(&AUDITORS) {
        return forbidden(session, "This page needs the auditor or operator role.");
    }
    let (shown_window, window_ms) = match asked_window(query) {
        Ok(asked) => asked,
        Err(error) => {
            return message(
                Some(session),
                StatusCode::BAD_REQUEST,
                "Bad query",
                &error.to_string(),
            );
        }
    };
    let filter = EventFilter {
        since_ms: Some(state.clock.now().millis().saturating_sub(window_ms)),
        limit: Some(MAX_LIMIT),
        ..EventFilter::default()
    };
    let store = Arc::clone(&state.store);
    let events = match blocking(move || store.query_events(&filter)).await {
        Ok(events) => events,
        Err(error) => {
            tracing::error!(%error, "console: cannot load the inventory's events");
            return unavailable(session);
        }
    };
    let observed = state.observe.current();
    let inventory = Inventory::new(&state.config, &observed, &events);
    let counted = events.len();
    super::html(
        StatusCode::OK,
        inventory_page(session, &shown_window, &inventory, counted),
    )
}

/// `window` alone, `7d` when absent.
fn asked_window(query: Option<&str>) -> Result<(String, i64), QueryError> {
    let mut asked = (DEFAULT_WINDOW.to_owned(), window(DEFAULT_WINDOW)?);
    for (key, value) in distinct_pairs(query.unwrap_or(""))? {
        if key != "window" {
            return Err(QueryError::Unknown(key));
        }
        asked = (value.clone(), window(&value)?);
    }
    Ok(asked)
}

fn inventory_page(
    session: &Session,
    shown_window: &str,
    inventory: &Inventory,
    counted: usize,
) -> String {
    let shown = viewer(session);
    let body = html! {
        h1 { "Inventory" }
        p {
            a href="/console" { "Overview" } " · "
            a href="/console/patterns" { "Call patterns" } " · "
            a href="/console/inventory" { "Inventory" } " · "
            a href="/console/tail" { "Live tail" }
        }
        form.filters method="get" action="/console/inventory" {
            label for="window" { "Window" }
            input type="text" id="window" name="window" value=(shown_window);
            button type="submit" { "Show" }
        }
        p.muted {
            "Every route and MCP mapping the configuration makes reachable, with the agents "
            "that called it among the " (counted) " newest events of the last " (shown_window)
            " (at most " (MAX_LIMIT) "), as " code { "gatehouse inventory" } " prints it."
        }
        h2 { "Routes" }
        (routes(&inventory.routes, shown_window))
        h2 { "Unmapped routes called (" (inventory.unmapped.len()) ")" }
        (unmapped(&inventory.unmapped, shown_window))
    };
    page("Inventory", Some((shown.operator, shown.csrf)), body)
}

fn routes(rows: &[RouteUse], shown_window: &str) -> Markup {
    let cells: Vec<Vec<Markup>> = rows
        .iter()
        .map(|row| {
            vec![
                text(&row.tool),
                text(&row.segment),
                code(&row.method),
                code(&row.path),
                code(&row.intent),
                text(&row.data_class),
                badge(&row.tier),
                text(&row.access),
                text(if row.observed { "observed" } else { "enforced" }),
                text(&row.calls.to_string()),
                agents(row.agents.iter(), shown_window),
            ]
        })
        .collect();
    let headings = [
        "Tool",
        "Segment",
        "Method",
        "Path",
        "Intent",
        "Data class",
        "Tier",
        "Access",
        "Mode",
        "Calls",
        "Agents",
    ];
    table(&headings, &cells, "No tool or MCP server is configured.")
}

fn unmapped(found: &[Unmapped], shown_window: &str) -> Markup {
    let cells: Vec<Vec<Markup>> = found
        .iter()
        .map(|candidate| {
            vec![
                text(&candidate.tool),
                code(&candidate.method),
                code(&candidate.path),
                text(&candidate.calls.to_string()),
                text(&candidate.discovered.to_string()),
                agents(candidate.agents.iter(), shown_window),
            ]
        })
        .collect();
    let headings = ["Tool", "Method", "Path", "Calls", "Discovered", "Agents"];
    table(
        &headings,
        &cells,
        "No call asked for a route that is not configured.",
    )
}

/// Each agent, linked to its call patterns over the same window.
fn agents<'a>(names: impl Iterator<Item = &'a String>, shown_window: &str) -> Markup {
    html! {
        @for (index, agent) in names.enumerate() {
            @if index > 0 { br; }
            a href=(link(agent, shown_window)) { (agent) }
        }
    }
}
