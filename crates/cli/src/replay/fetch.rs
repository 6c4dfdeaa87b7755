//! Reading recorded calls from the control plane, oldest first, a page at a time:
//! `GET /v1/events` with `after` returns the oldest events past an id, so paging on the
//! greatest id seen misses nothing, even while new events arrive.

use anyhow::Context;
use gatehouse_core::event::Event;
use gatehouse_core::event::EventKind;
use gatehouse_core::ids::DecisionId;
use http::Method;

use crate::control::{ControlArgs, encode};

/// The largest page the control plane serves.
const PAGE: u32 = 1000;

/// Which calls: an agent's or everyone's, from `since_ms` to `now_ms`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window<'a> {
    pub(crate) agent: Option<&'a str>,
    pub(crate) since_ms: i64,
    pub(crate) now_ms: i64,
}

impl Window<'_> {
    /// How far through the window `time_ms` is, 0.0 to 1.0.
    pub(crate) fn fraction(&self, time_ms: i64) -> f64 {
        let span = (self.now_ms - self.since_ms).max(1) as f64;
        ((time_ms - self.since_ms) as f64 / span).clamp(0.0, 1.0)
    }
}

/// Pages of tool and MCP calls (token and control-plane events are not calls).
#[derive(Debug)]
pub(crate) struct Pages<'a> {
    control: &'a ControlArgs,
    window: Window<'a>,
    after: DecisionId,
    done: bool,
}

pub(crate) fn calls<'a>(control: &'a ControlArgs, window: &Window<'a>) -> Pages<'a> {
    Pages {
        control,
        window: *window,
        after: DecisionId::from_u128(0),
        done: false,
    }
}

impl Pages<'_> {
    pub(crate) fn collect_all(self) -> anyhow::Result<Vec<Event>> {
        let mut all = Vec::new();
        for page in self {
            all.extend(page?);
        }
        Ok(all)
    }

    fn fetch(&mut self) -> anyhow::Result<Vec<Event>> {
        let mut path = format!(
            "/v1/events?since={}&until={}&after={}&limit={PAGE}",
            self.window.since_ms, self.window.now_ms, self.after
        );
        if let Some(agent) = self.window.agent {
            path.push_str(&format!("&agent={}", encode(agent)));
        }
        let body = self.control.request(Method::GET, &path, None)?;
        let mut events: Vec<Event> =
            serde_json::from_value(body.get("events").cloned().unwrap_or_default())
                .context("unexpected event format")?;
        events.sort_by_key(|event| event.id);
        match events.last() {
            Some(last) => self.after = last.id,
            None => self.done = true,
        }
        events.retain(|event| event.kind == EventKind::Tool || event.kind == EventKind::Mcp);
        Ok(events)
    }
}

impl Iterator for Pages<'_> {
    type Item = anyhow::Result<Vec<Event>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let page = self.fetch();
        if page.is_err() {
            self.done = true;
        }
        match page {
            Ok(events) if events.is_empty() && self.done => None,
            other => Some(other),
        }
    }
}
