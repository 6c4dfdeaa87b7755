//! The evidence as one self-contained HTML page. Every value comes from the store, and
//! much of it from agents (paths, reasons, names), so every piece of text goes through
//! [`escape`]; the page has no script and a CSP that forbids any.

use serde_json::Value;

/// The report for `evidence` (the `GET /v1/evidence` document).
pub(crate) fn report(evidence: &Value) -> String {
    let mut page = String::from(HEAD);
    page.push_str(&format!(
        "<h1>Gatehouse evidence</h1>\n<p>Period from {} to {} (Unix ms).</p>\n",
        text(evidence.get("since_ms")),
        text(evidence.get("generated_ms"))
    ));
    page.push_str(&chain(evidence.get("chain")));
    page.push_str(&policy(evidence.get("policy")));
    page.push_str("<h2>Decisions by outcome</h2>\n");
    page.push_str(&nested_counts(evidence.get("decisions")));
    page.push_str("<h2>Refusals by kind</h2>\n");
    page.push_str(&counts(evidence.get("refusals")));
    page.push_str("<h2>Control-plane actions</h2>\n");
    page.push_str(&counts(evidence.get("control_actions")));
    page.push_str(&approvals(evidence.get("approvals")));
    page.push_str("<h2>Revocations in force</h2>\n");
    page.push_str(&table(
        evidence.get("revocations"),
        &["kind", "subject", "at_ms", "by", "reason"],
    ));
    page.push_str("<h2>Quarantines in force</h2>\n");
    page.push_str(&table(
        evidence.pointer("/quarantines/live"),
        &["id", "kind", "subject", "by", "at_ms", "until_ms", "reason"],
    ));
    page.push_str("<h2>Quarantine changes</h2>\n");
    page.push_str(&table(
        evidence.pointer("/quarantines/changes"),
        &["time_ms", "actor", "action", "detail"],
    ));
    page.push_str("<h2>Playbook runs</h2>\n");
    page.push_str(&table(
        evidence.get("playbook_runs"),
        &["run", "playbook", "actor", "agent", "started_ms", "steps"],
    ));
    page.push_str("</body>\n</html>\n");
    page
}

const HEAD: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
<title>Gatehouse evidence</title>\n<style>body{font-family:sans-serif;margin:2em}\
table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #999;padding:2px 6px;\
text-align:left;vertical-align:top}.broken{color:#b00;font-weight:bold}</style>\n</head>\n<body>\n";

/// HTML-escapes `raw` for element content and quoted attribute values.
pub(crate) fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for character in raw.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// A JSON value as escaped text: strings as they are, arrays one item per line.
fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => escape(text),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| text(Some(item)))
            .collect::<Vec<_>>()
            .join("<br>"),
        Some(other) => escape(&other.to_string()),
    }
}

fn chain(check: Option<&Value>) -> String {
    let unbroken = check
        .and_then(|check| check.get("unbroken"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let detail = text(check.and_then(|check| check.get("check")));
    if unbroken {
        format!("<h2>Event chain</h2>\n<p>Unbroken. <code>{detail}</code></p>\n")
    } else {
        format!(
            "<h2>Event chain</h2>\n<p class=\"broken\">BROKEN.</p><p><code>{detail}</code></p>\n"
        )
    }
}

fn policy(policy: Option<&Value>) -> String {
    let mut out = format!(
        "<h2>Policy</h2>\n<p>Version in force: <code>{}</code></p>\n",
        text(policy.and_then(|policy| policy.get("version")))
    );
    out.push_str(&table(
        policy.and_then(|policy| policy.get("files")),
        &["path", "sha256"],
    ));
    out.push_str("<p>Versions approvals were decided under:</p>\n");
    out.push_str(&table(
        policy.and_then(|policy| policy.get("versions_in_approvals")),
        &["version", "approvals", "current"],
    ));
    out
}

fn approvals(approvals: Option<&Value>) -> String {
    let mut out = String::from("<h2>Approvals and confirmations</h2>\n");
    out.push_str(&table(
        approvals,
        &[
            "id",
            "checkpoint",
            "status",
            "agent",
            "tool",
            "intent",
            "required",
            "created_at",
        ],
    ));
    let decided = approvals.and_then(Value::as_array).map_or(0, |all| {
        all.iter()
            .filter(|approval| {
                approval
                    .get("verdicts")
                    .and_then(Value::as_array)
                    .is_some_and(|v| !v.is_empty())
            })
            .count()
    });
    out.push_str(&format!("<p>Verdicts ({decided} decided):</p>\n"));
    let verdicts: Vec<Value> = approvals
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|approval| {
            let id = approval.get("id").cloned().unwrap_or(Value::Null);
            approval
                .get("verdicts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |mut verdict| {
                    if let Some(object) = verdict.as_object_mut() {
                        object.insert("approval".to_owned(), id.clone());
                    }
                    verdict
                })
        })
        .collect();
    out.push_str(&table(
        Some(&Value::Array(verdicts)),
        &["approval", "by", "approve", "reason", "at"],
    ));
    out
}

fn counts(counts: Option<&Value>) -> String {
    let rows: Vec<Value> = counts
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, count)| serde_json::json!({ "name": name, "count": count }))
        .collect();
    table(Some(&Value::Array(rows)), &["name", "count"])
}

fn nested_counts(counts: Option<&Value>) -> String {
    let rows: Vec<Value> = counts
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .flat_map(|(surface, outcomes)| {
            outcomes
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |(outcome, count)| {
                    serde_json::json!({ "surface": surface, "outcome": outcome, "count": count })
                })
        })
        .collect();
    table(Some(&Value::Array(rows)), &["surface", "outcome", "count"])
}

/// A table of `rows` (an array of objects) with `columns`; "none" when empty.
fn table(rows: Option<&Value>, columns: &[&str]) -> String {
    let rows = rows.and_then(Value::as_array).cloned().unwrap_or_default();
    if rows.is_empty() {
        return "<p>None.</p>\n".to_owned();
    }
    let mut out = String::from("<table>\n<tr>");
    for column in columns {
        out.push_str(&format!("<th>{}</th>", escape(column)));
    }
    out.push_str("</tr>\n");
    for row in &rows {
        out.push_str("<tr>");
        for column in columns {
            out.push_str(&format!("<td>{}</td>", text(row.get(*column))));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_escaped_everywhere() {
        let hostile = "<script>alert('x')</script>&\"";
        let evidence = serde_json::json!({
            "since_ms": 1, "generated_ms": 2,
            "chain": { "unbroken": true, "check": { "events": 1 } },
            "policy": { "version": hostile, "files": [{ "path": hostile, "sha256": "ab" }] },
            "decisions": { hostile: { "allow": 1 } },
            "refusals": { hostile: 2 },
            "approvals": [{ "id": hostile, "verdicts": [{ "by": hostile, "approve": true, "reason": hostile }] }],
            "revocations": [{ "kind": "agent", "subject": hostile, "reason": hostile }],
            "quarantines": { "live": [], "changes": [{ "detail": hostile }] },
            "playbook_runs": [{ "run": "r", "steps": [hostile] }],
        });
        let page = report(&evidence);
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("'x'"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"));
    }
}
