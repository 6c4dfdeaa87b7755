//! `gatehouse inventory suggest`: route config for the unmapped routes agents called,
//! one line per candidate to add to its tool's `routes`, with an intent named after the
//! method and the path's fixed segments.

use std::collections::BTreeMap;

use gatehouse_core::inventory::Unmapped;

/// Route config for each candidate, per tool: lines to add to its `routes`.
pub(super) fn suggest(unmapped: &[Unmapped]) -> String {
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
    fn suggested_intents_name_the_method_and_the_fixed_segments() {
        assert_eq!(
            intent("shop", "GET", "/orders/{id}/items"),
            "shop.get_orders_items"
        );
        assert_eq!(intent("shop", "POST", "/"), "shop.post");
    }
}
