//! The access line written by hand, byte for byte as tracing-subscriber's `fmt` layer
//! writes the `tracing::event!` of `access_log::traced` (text without colours, and JSON
//! with `flatten_event(true)`). Each rule below names the tracing-subscriber code it
//! copies; `access_log/tests.rs` holds the proof, a property test against the real
//! subscriber.

use std::time::SystemTime;

use super::timestamp::{self, decimal};
use super::{Fields, Format, TARGET};
use gatehouse_core::escape::{debug_str, json_string};

/// Appends the whole line, ending in `\n`, to `out`.
pub(crate) fn write(out: &mut Vec<u8>, format: Format, time: SystemTime, fields: &Fields<'_>) {
    match format {
        Format::Text => text(out, time, fields),
        Format::Json => json(out, time, fields),
    }
}

/// `Format<Full, SystemTime>::format_event`: timestamp, a space, the level padded to
/// five characters (`FmtLevel`: " INFO", " WARN") and a space, `target: `, then the
/// fields as `DefaultVisitor` writes them, separated by one space. An absent `Option`
/// records nothing, so leaves no space.
fn text(out: &mut Vec<u8>, time: SystemTime, fields: &Fields<'_>) {
    timestamp::write(out, time);
    out.extend_from_slice(if fields.warn { b"  WARN " } else { b"  INFO " });
    out.extend_from_slice(TARGET.as_bytes());
    out.extend_from_slice(b": decision=");
    // `%event.id`: a `Display` value, written as it displays.
    out.extend_from_slice(&fields.decision.encode());
    // One call per field, each with its literal prefix, so the prefixes are copied as
    // constants rather than through `memcpy`.
    text_str(out, b" kind=", Some(fields.kind));
    text_str(out, b" agent=", fields.agent);
    text_str(out, b" workflow=", fields.workflow);
    text_str(out, b" tool=", fields.tool);
    text_str(out, b" intent=", fields.intent);
    text_str(out, b" outcome=", Some(fields.outcome));
    out.extend_from_slice(b" status=");
    decimal(out, u64::from(fields.status));
    out.extend_from_slice(b" latency_us=");
    decimal(out, fields.latency_us);
    text_str(out, b" refusal=", fields.refusal);
    text_str(out, b" reason=", fields.reason);
    out.push(b'\n');
}

/// A `&str` field after its prefix (` name=`): `DefaultVisitor::record_str` writes it
/// with `{:?}`.
#[inline]
fn text_str(out: &mut Vec<u8>, prefix: &[u8], value: Option<&str>) {
    let Some(value) = value else { return };
    out.extend_from_slice(prefix);
    debug_str(out, value);
}

/// `Format<Json, SystemTime>::format_event` with `flatten_event(true)`: one object,
/// `timestamp`, `level`, then the fields in order as `tracing_serde::SerdeMapVisitor`
/// records them (texts and `Display` values as strings, integers as numbers, absent
/// options left out), then `target`; serde_json's compact form.
fn json(out: &mut Vec<u8>, time: SystemTime, fields: &Fields<'_>) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp::write(out, time);
    out.extend_from_slice(if fields.warn {
        b"\",\"level\":\"WARN\",\"decision\":\""
    } else {
        b"\",\"level\":\"INFO\",\"decision\":\""
    });
    out.extend_from_slice(&fields.decision.encode());
    out.push(b'"');
    json_str(out, b",\"kind\":", Some(fields.kind));
    json_str(out, b",\"agent\":", fields.agent);
    json_str(out, b",\"workflow\":", fields.workflow);
    json_str(out, b",\"tool\":", fields.tool);
    json_str(out, b",\"intent\":", fields.intent);
    json_str(out, b",\"outcome\":", Some(fields.outcome));
    out.extend_from_slice(b",\"status\":");
    decimal(out, u64::from(fields.status));
    out.extend_from_slice(b",\"latency_us\":");
    decimal(out, fields.latency_us);
    json_str(out, b",\"refusal\":", fields.refusal);
    json_str(out, b",\"reason\":", fields.reason);
    out.extend_from_slice(b",\"target\":\"");
    out.extend_from_slice(TARGET.as_bytes());
    out.extend_from_slice(b"\"}\n");
}

/// A present text field after its prefix (`,"name":`).
#[inline]
fn json_str(out: &mut Vec<u8>, prefix: &[u8], value: Option<&str>) {
    let Some(value) = value else { return };
    out.extend_from_slice(prefix);
    json_string(out, value);
}
