//! Unmapped routes: the calls refused `no-route` for a configured tool, and those a
//! discovering tool (`discover = true`) forwarded instead (`observed` names
//! `would-deny:no-route`), grouped by method and path shape. Ids (all digits, UUIDs, hex of 16 or more) fold into `{id}`, `{id2}`, …
//! so `/orders/17` and `/orders/18` are one candidate, `GET /orders/{id}`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::Config;
use crate::event::{Event, Observed, Would};
use crate::refusal::RefusalKind;

/// One candidate route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmapped {
    pub tool: String,
    pub method: String,
    pub path: String,
    pub calls: usize,
    /// How many of them were forwarded by discovery rather than refused.
    pub discovered: usize,
    pub agents: BTreeSet<String>,
}

/// The unmapped routes of configured tools among `events`, busiest first.
pub(crate) fn unmapped(config: &Config, events: &[Event]) -> Vec<Unmapped> {
    let mut found: BTreeMap<(String, String, String), Unmapped> = BTreeMap::new();
    for event in events {
        let discovered = is_discovered(event);
        if !discovered && event.refusal != Some(RefusalKind::NoRoute) {
            continue;
        }
        let Some((tool, below)) = tool_path(&event.path) else {
            continue;
        };
        if !config.tools.keys().any(|name| name.as_str() == tool) {
            continue;
        }
        let path = template(below);
        let key = (tool.to_owned(), event.method.clone(), path.clone());
        let entry = found.entry(key).or_insert_with(|| Unmapped {
            tool: tool.to_owned(),
            method: event.method.clone(),
            path,
            calls: 0,
            discovered: 0,
            agents: BTreeSet::new(),
        });
        entry.calls += 1;
        entry.discovered += usize::from(discovered);
        entry
            .agents
            .extend(event.agent.as_deref().map(str::to_owned));
    }
    let mut all: Vec<Unmapped> = found.into_values().collect();
    all.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.path.cmp(&b.path)));
    all
}

/// A call a discovering tool forwarded although no route classified it.
fn is_discovered(event: &Event) -> bool {
    matches!(&event.observed, Some(Observed::Would(all))
        if all.contains(&Would::Deny(RefusalKind::NoRoute)))
}

/// `/tools/{tool}/rest` → (`tool`, `/rest`), without the query.
fn tool_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/tools/")?;
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    Some(match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    })
}

/// The path with each id segment replaced by `{id}`, `{id2}`, ….
pub(crate) fn template(path: &str) -> String {
    let mut ids = 0;
    let segments: Vec<String> = path
        .split('/')
        .map(|segment| {
            if !is_id(segment) {
                return segment.to_owned();
            }
            ids += 1;
            if ids == 1 {
                "{id}".to_owned()
            } else {
                format!("{{id{ids}}}")
            }
        })
        .collect();
    segments.join("/")
}

fn is_id(segment: &str) -> bool {
    let hex = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit());
    let digits = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = segment.split('-').collect();
    let uuid =
        parts.iter().map(|part| part.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| hex(p));
    digits || uuid || (segment.len() >= 16 && hex(segment))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fold_into_numbered_templates() {
        assert_eq!(template("/orders/17"), "/orders/{id}");
        assert_eq!(
            template("/orders/550e8400-e29b-41d4-a716-446655440000/items/9"),
            "/orders/{id}/items/{id2}"
        );
        assert_eq!(template("/blobs/0123456789abcdef0"), "/blobs/{id}");
        assert_eq!(template("/blobs/cafe"), "/blobs/cafe");
        assert_eq!(template("/v2/users"), "/v2/users");
    }
}
