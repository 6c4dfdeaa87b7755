//! Events as OpenTelemetry data in OTLP/HTTP's JSON encoding: one log record per event
//! (its line as the body, its decision as attributes), and one span per call with the
//! decision as attributes, named after semantic conventions where they exist
//! (`gen_ai.tool.name`, `mcp.session.id`, `http.request.method`, `url.path`,
//! `http.response.status_code`) and `gatehouse.*` for the rest. OTLP's JSON writes trace and span ids as hex. A
//! span is the one the tool saw as its parent (`trace.rs`): under the caller's trace
//! when it sent a valid `traceparent`, its parent then the caller's span.

use gatehouse_core::event::{Event, EventKind, Outcome};
use gatehouse_core::model::Tier;
use gatehouse_core::refusal::RefusalKind;
use gatehouse_store::StoredLine;
use serde_json::{Value, json};

const SCOPE: &str = "gatehouse";

/// A stored line and, when it reads as one, its event.
pub(super) struct Parsed<'l> {
    line: &'l StoredLine,
    event: Option<Event>,
}

pub(super) fn parse(lines: &[StoredLine]) -> Vec<Parsed<'_>> {
    lines
        .iter()
        .map(|line| Parsed {
            line,
            event: serde_json::from_str(&line.line).ok(),
        })
        .collect()
}

/// An `ExportLogsServiceRequest`.
pub(super) fn logs(events: &[Parsed<'_>]) -> String {
    let records: Vec<Value> = events.iter().map(log_record).collect();
    let request = json!({
        "resourceLogs": [{
            "resource": resource(),
            "scopeLogs": [{ "scope": { "name": SCOPE }, "logRecords": records }],
        }],
    });
    request.to_string()
}

/// An `ExportTraceServiceRequest`: a span for every event of a call.
pub(super) fn spans(events: &[Parsed<'_>]) -> String {
    let spans: Vec<Value> = events
        .iter()
        .filter_map(|parsed| parsed.event.as_ref())
        .map(span)
        .collect();
    let request = json!({
        "resourceSpans": [{
            "resource": resource(),
            "scopeSpans": [{ "scope": { "name": SCOPE }, "spans": spans }],
        }],
    });
    request.to_string()
}

fn resource() -> Value {
    json!({ "attributes": [text("service.name", "gatehouse")] })
}

fn log_record(parsed: &Parsed<'_>) -> Value {
    let Some(event) = &parsed.event else {
        return json!({ "body": { "stringValue": parsed.line.line } });
    };
    let (number, severity) = match event.outcome {
        Outcome::Error => (17, "ERROR"),
        Outcome::Deny => (13, "WARN"),
        _ => (9, "INFO"),
    };
    let nanos = nanos(event.time_ms).to_string();
    let mut attributes = attributes(event);
    attributes.push(text(
        "gatehouse.position",
        &parsed.line.position.to_string(),
    ));
    json!({
        "timeUnixNano": nanos,
        "observedTimeUnixNano": nanos,
        "severityNumber": number,
        "severityText": severity,
        "eventName": "gatehouse.decision",
        "body": { "stringValue": parsed.line.line },
        "attributes": attributes,
        "traceId": trace_id(event),
        "spanId": span_id(event),
    })
}

fn span(event: &Event) -> Value {
    let start = nanos(event.time_ms);
    let end = start.saturating_add(i128::from(event.latency_us) * 1000);
    let name = match &event.intent {
        Some(intent) => format!("{} {intent}", event.kind),
        None => format!("{} {}", event.kind, event.method),
    };
    // Unset for a decision carried out; an error when the call failed.
    let status = match event.outcome {
        Outcome::Error => {
            json!({ "code": 2, "message": event.refusal.map_or("", RefusalKind::as_str) })
        }
        _ => json!({ "code": 0 }),
    };
    json!({
        "traceId": trace_id(event),
        "spanId": span_id(event),
        "parentSpanId": event.parent_span_id.clone().unwrap_or_default(),
        "name": name,
        "kind": 2,
        "startTimeUnixNano": start.to_string(),
        "endTimeUnixNano": end.to_string(),
        "attributes": attributes(event),
        "status": status,
    })
}

/// The decision's attributes, those with no value left out.
fn attributes(event: &Event) -> Vec<Value> {
    let mut list = vec![
        text("gatehouse.event.id", &event.id.to_string()),
        text("gatehouse.kind", event.kind.as_str()),
        text("gatehouse.decision", event.outcome.as_str()),
        text("http.request.method", &event.method),
        text("url.path", &event.path),
        integer("http.response.status_code", i64::from(event.status)),
    ];
    let optional = [
        ("gatehouse.intent", event.intent.as_deref()),
        ("gatehouse.refusal", event.refusal.map(RefusalKind::as_str)),
        ("gatehouse.agent", event.agent.as_deref()),
        ("gatehouse.workflow", event.workflow.as_deref()),
        ("gatehouse.segment", event.segment.as_deref()),
        ("gatehouse.tier", event.tier.map(Tier::as_str)),
        ("gatehouse.actor", event.actor.as_deref()),
        ("gen_ai.tool.name", event.tool.as_deref()),
        ("mcp.session.id", event.mcp_session.as_deref()),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            list.push(text(key, value));
        }
    }
    if event.kind == EventKind::Mcp {
        list.push(text("mcp.method.name", &event.method));
    }
    if let Some(risk) = &event.risk {
        list.push(text("gatehouse.response.class", &risk.class));
    }
    if !event.policies.is_empty() {
        let values: Vec<Value> = event
            .policies
            .iter()
            .map(|policy| json!({ "stringValue": policy }))
            .collect();
        list.push(json!({
            "key": "gatehouse.policies",
            "value": { "arrayValue": { "values": values } },
        }));
    }
    list
}

fn text(key: &str, value: &str) -> Value {
    json!({ "key": key, "value": { "stringValue": value } })
}

/// OTLP's JSON writes 64-bit integers as strings.
fn integer(key: &str, value: i64) -> Value {
    json!({ "key": key, "value": { "intValue": value.to_string() } })
}

fn nanos(time_ms: i64) -> i128 {
    i128::from(time_ms) * 1_000_000
}

/// The call's trace: the caller's (from its `traceparent`) or its own.
fn trace_id(event: &Event) -> String {
    format!("{:032x}", crate::trace::span_of(event).trace_id)
}

/// Gatehouse's span for the call, the parent the tool saw in its `traceparent`.
fn span_id(event: &Event) -> String {
    format!("{:016x}", crate::trace::span_of(event).span_id)
}
