//! The access line written by hand, byte for byte as tracing-subscriber's `fmt` layer
//! writes the `tracing::event!` of `access_log::traced` (text without colours, and JSON
//! with `flatten_event(true)`). Each rule below names the tracing-subscriber code it
//! copies; `access_log/tests.rs` holds the proof, a property test against the real
//! subscriber.

use std::time::SystemTime;

use super::timestamp::{self, decimal};
use super::{Fields, Format, TARGET};

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

/// `<str as Debug>::fmt`: quoted; runs of printable ASCII other than `\` and `"` as
/// they are, every other character as `char::escape_debug` writes it (the same
/// escapes: `\n`, `\"`, `\u{1b}`, grapheme extenders). The single quote alone is
/// escaped by `escape_debug` and not by `str`'s `Debug`, and it is printable ASCII, so
/// it never reaches that branch.
fn debug_str(out: &mut Vec<u8>, value: &str) {
    let needs_escape = |byte: u8| !(0x20..=0x7e).contains(&byte) || byte == b'\\' || byte == b'"';
    out.push(b'"');
    let mut rest = value;
    while let Some(start) = rest.bytes().position(needs_escape) {
        let (plain, escaped) = rest.split_at(start);
        out.extend_from_slice(plain.as_bytes());
        let mut chars = escaped.chars();
        if let Some(c) = chars.next() {
            let mut utf8 = [0; 4];
            for piece in c.escape_debug() {
                out.extend_from_slice(piece.encode_utf8(&mut utf8).as_bytes());
            }
        }
        rest = chars.as_str();
    }
    out.extend_from_slice(rest.as_bytes());
    out.push(b'"');
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

/// serde_json's string escaping (`format_escaped_str`): `"` and `\` backslashed, the
/// control characters below 0x20 as `\b \t \n \f \r` or `\u00xx` (lowercase hex);
/// everything else, DEL and non-ASCII included, as it is.
fn json_string(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut rest = value.as_bytes();
    while let Some(start) = rest
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
    {
        let (plain, escaped) = rest.split_at(start);
        out.extend_from_slice(plain);
        let Some((&byte, after)) = escaped.split_first() else {
            break;
        };
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            control => {
                let hex = |nibble: u8| HEX.get(usize::from(nibble)).copied().unwrap_or(b'0');
                out.extend_from_slice(b"\\u00");
                out.extend_from_slice(&[hex(control >> 4), hex(control & 0xf)]);
            }
        }
        rest = after;
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debug(value: &str) -> String {
        let mut out = Vec::new();
        debug_str(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    fn json(value: &str) -> String {
        let mut out = Vec::new();
        json_string(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn texts_are_quoted_as_debug_quotes_them() {
        for value in [
            "",
            "plain",
            "it's \"quoted\" \\ here",
            "tab\tline\nreturn\r nul\0 esc\u{1b} del\u{7f}",
            "é ü 日本 \u{301} \u{200b} \u{feff} \u{10ffff}",
        ] {
            assert_eq!(debug(value), format!("{value:?}"));
        }
    }

    #[test]
    fn texts_are_escaped_as_serde_json_escapes_them() {
        for value in [
            "",
            "plain",
            "it's \"quoted\" \\ here",
            "\u{8}\u{c}\t\n\r\0\u{1}\u{1f}\u{7f} é 日本 \u{2028}",
        ] {
            assert_eq!(json(value), serde_json::to_string(value).unwrap());
        }
    }
}
