//! The call-pattern page (`/console/patterns`, auditors and operators): one agent's call
//! rates over a window, one line per intent, counted in the store
//! (`Store::call_counts`), drawn as SVG (`chart.rs`) against the agent's baseline band
//! where one has been learned, and the same numbers as a table. Agent and window come
//! from the query string, parsed strictly (`query.rs`); a bad one is a 400 page.

pub(super) mod query;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use gatehouse_core::baseline::{AgentBaseline, Window};
use gatehouse_store::{CallCount, RateQuery};
use http::{Response, StatusCode};
use maud::{Markup, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::chart::{self, Band, Chart, Series, time_label};
use super::html::{page, table, text};
use super::session::Session;
use super::{AUDITORS, forbidden, message, unavailable, viewer};
use crate::body::ResponseBody;
use crate::control::{ControlError, blocking};
use crate::state::State;
use query::Asked;

const HOUR_MS: i64 = 3_600_000;
/// Rates are shown per hour whatever the bucket, so buckets compare with the band.
const UNIT: &str = "calls per hour";
/// Windows offered on the page; any other whole number of hours or days works too.
const WINDOWS: [&str; 5] = ["6h", "24h", "3d", "7d", "30d"];
/// Characters left as they are in a query value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_');

/// Expected calls per hour of one intent, by hour of day (UTC); `None` where unknown.
pub(crate) type HourBands = [Option<Band>; 24];

pub(super) async fn show(
    state: &Arc<State>,
    session: &Session,
    query: Option<&str>,
) -> Response<ResponseBody> {
    if !session.has_any(&AUDITORS) {
        return forbidden(session, "This page needs the auditor or operator role.");
    }
    let asked = match Asked::parse(query) {
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
    let Some(agent) = asked.agent.clone() else {
        return super::html(StatusCode::OK, chooser(state, session, &asked));
    };
    let now_ms = state.clock.now().millis();
    let Some(rates) = window(&agent, now_ms, asked.window_ms) else {
        return message(
            Some(session),
            StatusCode::BAD_REQUEST,
            "Bad query",
            "That window cannot be drawn.",
        );
    };
    match load(state, &rates, &agent, now_ms).await {
        Ok((counts, bands)) => {
            let drawn = chart_of(&agent, &rates, &counts, &bands);
            super::html(
                StatusCode::OK,
                chart_page(session, &asked, &drawn, !bands.is_empty()),
            )
        }
        Err(error) => {
            tracing::error!(%error, "console: cannot load call patterns");
            unavailable(session)
        }
    }
}

/// Buckets of 5 minutes up to 3 hours, 15 minutes below a day, else an hour; the
/// window ends with the bucket holding `now_ms`.
fn window(agent: &str, now_ms: i64, window_ms: i64) -> Option<RateQuery> {
    let bucket_ms = match window_ms {
        ms if ms <= 3 * HOUR_MS => 5 * 60_000,
        ms if ms < 24 * HOUR_MS => 15 * 60_000,
        _ => HOUR_MS,
    };
    let until_ms = (now_ms.div_euclid(bucket_ms) + 1).checked_mul(bucket_ms)?;
    RateQuery::new(agent, until_ms.checked_sub(window_ms)?, until_ms, bucket_ms)
}

/// The counts, and the agent's baseline bands per intent (empty when none is learned).
async fn load(
    state: &Arc<State>,
    rates: &RateQuery,
    agent: &str,
    now_ms: i64,
) -> Result<(Vec<CallCount>, BTreeMap<String, HourBands>), ControlError> {
    let store = Arc::clone(&state.store);
    let query = rates.clone();
    let counts = blocking(move || store.call_counts(&query)).await?;
    let bands = baseline_bands(state, agent, now_ms).await?;
    Ok((counts, bands))
}

/// The agent's baseline, learned from its stored hour counts over the configured
/// learning window (`[baseline] window_days`) before the current hour, as bands: the
/// same baseline the gateway judges calls against.
async fn baseline_bands(
    state: &Arc<State>,
    agent: &str,
    now_ms: i64,
) -> Result<BTreeMap<String, HourBands>, ControlError> {
    let store = Arc::clone(&state.store);
    let agent = agent.to_owned();
    let window = Window::ending(now_ms, state.config.baseline.window_days);
    let learned = blocking(move || store.baseline(&agent, window)).await?;
    Ok(bands_of(&learned))
}

/// Per intent, each hour of day's band: the least and the most calls seen in that hour
/// over the days learned. None when nothing was learned.
pub(crate) fn bands_of(learned: &AgentBaseline) -> BTreeMap<String, HourBands> {
    if learned.first_hour.is_none() {
        return BTreeMap::new();
    }
    learned
        .intents
        .iter()
        .map(|intent| {
            let mut hours: HourBands = [None; 24];
            for (slot, band) in hours.iter_mut().zip(&intent.hours) {
                *slot = Some(Band {
                    low: band.min_calls as f64,
                    high: band.max_calls as f64,
                });
            }
            (intent.intent.clone(), hours)
        })
        .collect()
}

/// The chart: a series per intent called or expected, in calls per hour.
pub(crate) fn chart_of(
    agent: &str,
    rates: &RateQuery,
    counts: &[CallCount],
    bands: &BTreeMap<String, HourBands>,
) -> Chart {
    let buckets = usize::try_from(rates.buckets()).unwrap_or(0);
    let per_hour = HOUR_MS as f64 / rates.bucket_ms() as f64;
    let intents: BTreeSet<&str> = counts
        .iter()
        .map(|count| count.intent.as_str())
        .chain(bands.keys().map(String::as_str))
        .collect();
    let series = intents
        .into_iter()
        .map(|intent| {
            let mut values = vec![0.0; buckets];
            for count in counts.iter().filter(|count| count.intent == intent) {
                if let Some(value) = usize::try_from(count.bucket)
                    .ok()
                    .and_then(|bucket| values.get_mut(bucket))
                {
                    *value = count.calls as f64 * per_hour;
                }
            }
            let band = bands
                .get(intent)
                .map(|hours| bucket_bands(rates, buckets, hours))
                .unwrap_or_default();
            Series {
                name: intent.to_owned(),
                values,
                band,
            }
        })
        .collect();
    Chart {
        title: format!("Calls of {agent}"),
        description: format!(
            "Calls per hour of agent {agent} by intent, in buckets of {} from {} UTC, \
             each intent against its expected range where a baseline is learned.",
            minutes(rates.bucket_ms()),
            time_label(rates.since_ms())
        ),
        id: "rates",
        start_ms: rates.since_ms(),
        bucket_ms: rates.bucket_ms(),
        buckets,
        unit: UNIT,
        series,
    }
}

/// Each bucket's band: that of the hour of day it starts in.
fn bucket_bands(rates: &RateQuery, buckets: usize, hours: &HourBands) -> Vec<Option<Band>> {
    (0..buckets)
        .map(|index| {
            let start = rates.since_ms() + rates.bucket_ms() * index as i64;
            let hour = start.div_euclid(HOUR_MS).rem_euclid(24);
            usize::try_from(hour)
                .ok()
                .and_then(|hour| hours.get(hour).copied().flatten())
        })
        .collect()
}

fn minutes(ms: i64) -> String {
    match ms / 60_000 {
        60 => "an hour".to_owned(),
        n => format!("{n} minutes"),
    }
}

/// The links to the other pages, under each page's title.
fn nav() -> Markup {
    html! {
        p {
            a href="/console" { "Overview" } " · "
            a href="/console/patterns" { "Call patterns" } " · "
            a href="/console/inventory" { "Inventory" } " · "
            a href="/console/tail" { "Live tail" }
        }
    }
}

/// The form choosing agent and window.
fn form(asked: &Asked) -> Markup {
    html! {
        form.filters method="get" action="/console/patterns" {
            label for="agent" { "Agent" }
            input type="text" id="agent" name="agent" value=(asked.agent.as_deref().unwrap_or(""));
            label for="window" { "Window" }
            select id="window" name="window" {
                @for window in WINDOWS {
                    option value=(window) selected[window == asked.window] { (window) }
                }
                @if !WINDOWS.contains(&asked.window.as_str()) {
                    option value=(asked.window) selected { (asked.window) }
                }
            }
            button type="submit" { "Show" }
        }
    }
}

/// Without an agent: the configured agents to choose from.
fn chooser(state: &State, session: &Session, asked: &Asked) -> String {
    let shown = viewer(session);
    let agents: Vec<Vec<Markup>> = state
        .config
        .agents
        .keys()
        .map(|agent| {
            vec![html! { a href=(link(agent.as_str(), &asked.window)) { (agent.as_str()) } }]
        })
        .collect();
    let body = html! {
        h1 { "Call patterns" }
        (nav())
        (form(asked))
        h2 { "Agents" }
        (table(&["Agent"], &agents, "No agent is configured; name one above."))
    };
    page("Call patterns", Some((shown.operator, shown.csrf)), body)
}

/// The page of one agent's chart.
fn chart_page(session: &Session, asked: &Asked, drawn: &Chart, banded: bool) -> String {
    let shown = viewer(session);
    let body = html! {
        h1 { "Call patterns" }
        (nav())
        (form(asked))
        @if !banded {
            p.muted { "No baseline is learned for this agent: the chart shows its calls alone." }
        }
        div.scroll.chart { (chart::svg(drawn)) }
        details {
            summary { "The numbers (" (UNIT) ")" }
            (numbers(drawn))
        }
    };
    page("Call patterns", Some((shown.operator, shown.csrf)), body)
}

/// The chart as a table: a row per bucket, a column per intent, the expected range
/// beside each value where known.
fn numbers(drawn: &Chart) -> Markup {
    let mut headings = vec!["Time (UTC)"];
    headings.extend(drawn.series.iter().map(|series| series.name.as_str()));
    let rows: Vec<Vec<Markup>> = (0..drawn.buckets)
        .map(|bucket| {
            let at = drawn.start_ms + drawn.bucket_ms * bucket as i64;
            let mut row = vec![text(&time_label(at))];
            row.extend(drawn.series.iter().map(|series| cell(series, bucket)));
            row
        })
        .collect();
    table(&headings, &rows, "No buckets.")
}

fn cell(series: &Series, bucket: usize) -> Markup {
    let value = series.values.get(bucket).copied().unwrap_or(0.0);
    let band = series.band.get(bucket).copied().flatten();
    html! {
        (rate(value))
        @if let Some(band) = band {
            " " span.muted { "(expected " (rate(band.low)) "–" (rate(band.high)) ")" }
        }
    }
}

fn rate(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
}

/// This page for `agent` over `window`.
pub(crate) fn link(agent: &str, window: &str) -> String {
    format!(
        "/console/patterns?agent={}&window={}",
        utf8_percent_encode(agent, QUERY_VALUE),
        utf8_percent_encode(window, QUERY_VALUE)
    )
}

#[cfg(test)]
mod tests;
