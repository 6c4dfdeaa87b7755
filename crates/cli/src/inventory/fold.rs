//! Unmapped routes: the calls refused `no-route` for a configured tool, and those a
//! discovering tool (`discover = true`) forwarded instead (`observed` names
//! `would-deny:no-route`), grouped by method and path shape. Ids (all digits, UUIDs, hex of 16 or more) fold into `{id}`, `{id2}`, …
//! so `/orders/17` and `/orders/18` are one candidate, `GET /orders/{id}`.

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_core::config::Config;
use gatehouse_core::event::{Event, Observed, Would};
use gatehouse_core::refusal::RefusalKind;
use serde::Serialize;

/// One candidate route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Unmapped {
    pub(crate) tool: String,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) calls: usize,
    /// How many of them were forwarded by discovery rather than refused.
    pub(crate) discovered: usize,
    pub(crate) agents: BTreeSet<String>,
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

/// Route config for each candidate, per tool: lines to add to its `routes`.
pub(crate) fn suggest(unmapped: &[Unmapped]) -> String {
    let mut by_tool: BTreeMap<&str, Vec<&Unmapped>> = BTreeMap::new();
    for found in unmapped {
        by_tool.entry(found.tool.as_str()).or_default().push(found);
    }
    let mut out = Vec::new();
    for (tool, found) in by_tool {
        out.push(format!(
            "# [tools.{tool}]: add to `routes`, then give each intent a data class, a tier, \
             a task class and a policy"
        ));
        for candidate in found {
            out.push(format!(
                "  {{ method = \"{}\", path = \"{}\", intent = \"{}\" }},  # {} calls",
                candidate.method,
                candidate.path,
                intent(tool, &candidate.method, &candidate.path),
                candidate.calls
            ));
        }
    }
    if out.is_empty() {
        out.push("# no unmapped routes were called".to_owned());
    }
    out.join("\n")
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

/// `tool.get_orders_items` from `GET /orders/{id}/items`.
fn intent(tool: &str, method: &str, path: &str) -> String {
    let words: Vec<String> = path
        .split('/')
        .filter(|segment| !segment.is_empty() && !segment.starts_with('{'))
        .map(|segment| {
            segment
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect()
        })
        .collect();
    let mut name = method.to_ascii_lowercase();
    for word in words {
        name.push('_');
        name.push_str(&word);
    }
    format!("{tool}.{name}")
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

    #[test]
    fn suggested_intents_name_the_method_and_the_fixed_segments() {
        assert_eq!(
            intent("shop", "GET", "/orders/{id}/items"),
            "shop.get_orders_items"
        );
        assert_eq!(intent("shop", "POST", "/"), "shop.post");
    }
}
