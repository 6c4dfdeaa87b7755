//! Redaction: named JSON members anywhere in a document, and detector hits in its
//! strings (or in the raw text of a body that is not JSON).

use serde_json::Value;

use super::{RiskSettings, RouteRisk, Unjudged, redacted_spans};

/// What a redacted field's value becomes.
pub(super) const FIELD: &str = "[redacted]";

/// The body with what `route` names replaced, and how many values were.
pub(super) fn redact(
    settings: &RiskSettings,
    route: &RouteRisk,
    body: &[u8],
) -> Result<(Vec<u8>, u64), Unjudged> {
    // An empty answer (a `204`, a `HEAD`) has nothing to redact.
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((body.to_vec(), 0));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(mut document) => {
            let count = value(settings, route, &mut document);
            // Re-encoding a parsed value cannot fail; an empty body is never sent for one.
            let text = serde_json::to_vec(&document).unwrap_or_default();
            Ok((text, count))
        }
        Err(_) if !route.redact_fields.is_empty() => {
            let fields: Vec<&str> = route.redact_fields.iter().map(String::as_str).collect();
            Err(Unjudged::NotJson(fields.join("`, `")))
        }
        Err(_) => Ok(text(settings, route, body)),
    }
}

/// Redacts one JSON value in place, depth first.
pub(super) fn value(settings: &RiskSettings, route: &RouteRisk, value: &mut Value) -> u64 {
    match value {
        Value::Object(members) => members
            .iter_mut()
            .map(|(name, member)| {
                if route.redact_fields.contains(name) {
                    *member = Value::String(FIELD.to_owned());
                    1
                } else {
                    self::value(settings, route, member)
                }
            })
            .sum(),
        Value::Array(items) => items
            .iter_mut()
            .map(|item| self::value(settings, route, item))
            .sum(),
        Value::String(string) => {
            let (replaced, count) = text(settings, route, string.as_bytes());
            if count > 0 {
                *string = String::from_utf8_lossy(&replaced).into_owned();
            }
            count
        }
        // A card number may be a bare JSON number.
        Value::Number(number) => {
            let digits = number.to_string();
            let (_, count) = text(settings, route, digits.as_bytes());
            if count > 0 {
                *value = Value::String(FIELD.to_owned());
            }
            count
        }
        Value::Null | Value::Bool(_) => 0,
    }
}

/// `text` with every detector hit the route redacts replaced by `[redacted:NAME]`.
fn text(settings: &RiskSettings, route: &RouteRisk, text: &[u8]) -> (Vec<u8>, u64) {
    let spans = redacted_spans(settings, route, text);
    if spans.is_empty() {
        return (text.to_vec(), 0);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for (span, index) in &spans {
        out.extend_from_slice(text.get(at..span.start).unwrap_or_default());
        let name = settings
            .detectors
            .get(*index)
            .map_or("", |detector| detector.name.as_str());
        out.extend_from_slice(b"[redacted:");
        out.extend_from_slice(name.as_bytes());
        out.push(b']');
        at = span.end;
    }
    out.extend_from_slice(text.get(at..).unwrap_or_default());
    (out, spans.len() as u64)
}
