//! W3C Trace Context (`traceparent`, `tracestate`) at the data plane's edge (issue 14,
//! item 10). An agent's `traceparent` is parsed strictly: version `00`, exactly
//! `00-<32 hex>-<16 hex>-<2 hex>` in lowercase, neither id all zeros. Anything else is
//! ignored and the call starts a fresh trace; the agent's header is never forwarded as
//! sent. Gatehouse's own span for the call is the child the tool sees.

use crate::ids::DecisionId;

/// The length of a version-00 `traceparent`.
const LENGTH: usize = 55;
/// The longest `tracestate` passed on (the spec's limit is 512 bytes of members).
const MAX_STATE: usize = 512;
/// The most `tracestate` members.
const MAX_MEMBERS: usize = 32;

/// A valid incoming `traceparent`: the caller's trace, its span, its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: u128,
    pub parent_id: u64,
    pub flags: u8,
}

impl TraceParent {
    /// The header's value, or `None` for anything but a well-formed version-00 value.
    pub fn parse(value: &[u8]) -> Option<Self> {
        if value.len() != LENGTH {
            return None;
        }
        let (version, rest) = value.split_at(2);
        if version != b"00" {
            return None;
        }
        let field = |from: usize, to: usize| {
            let dash = rest.get(from - 1).copied();
            (dash == Some(b'-')).then(|| rest.get(from..to)).flatten()
        };
        let trace_id = hex(field(1, 33)?)?;
        let parent_id = u64::try_from(hex(field(34, 50)?)?).ok()?;
        let flags = u8::try_from(hex(field(51, 53)?)?).ok()?;
        (trace_id != 0 && parent_id != 0).then_some(Self {
            trace_id,
            parent_id,
            flags,
        })
    }
}

/// The span Gatehouse records for a call: the caller's trace (or a fresh one, the call's
/// decision id) and a span id of its own (the decision id's low 64 bits, which are
/// random in its layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallSpan {
    pub trace_id: u128,
    pub span_id: u64,
    /// The caller's span, when it sent a valid `traceparent`.
    pub parent_id: Option<u64>,
    pub flags: u8,
}

impl CallSpan {
    /// The call's span under `incoming`, or the root of a fresh trace.
    pub fn of(id: DecisionId, incoming: Option<TraceParent>) -> Self {
        let bits = id.as_u128();
        let span_id = u64::try_from(bits & u128::from(u64::MAX))
            .unwrap_or(1)
            .max(1);
        match incoming {
            Some(parent) => Self {
                trace_id: parent.trace_id,
                span_id,
                parent_id: Some(parent.parent_id),
                flags: parent.flags,
            },
            // A fresh trace, sampled: the gateway records every call.
            None => Self {
                trace_id: bits.max(1),
                span_id,
                parent_id: None,
                flags: 1,
            },
        }
    }

    /// The `traceparent` the tool receives: this span as its parent. Written digit by
    /// digit: it is on every forwarded call, and `format!`'s machinery costs more than
    /// the 55 bytes it writes.
    pub fn child_header(&self) -> String {
        let mut header = String::with_capacity(55);
        header.push_str("00-");
        push_hex(&mut header, self.trace_id, 32);
        header.push('-');
        push_hex(&mut header, u128::from(self.span_id), 16);
        header.push('-');
        push_hex(&mut header, u128::from(self.flags), 2);
        header
    }
}

/// Appends the low `digits` hexadecimal digits of `value`, lower case, zero-padded.
fn push_hex(out: &mut String, value: u128, digits: u32) {
    for at in (0..digits).rev() {
        let nibble = u32::try_from((value >> (at * 4)) & 0xf).unwrap_or(0);
        out.push(char::from_digit(nibble, 16).unwrap_or('0'));
    }
}

/// Whether a `tracestate` value is well formed (list members `key=value`, at most 32,
/// keys and values of the allowed characters): only such a value is passed on.
pub fn tracestate_is_valid(value: &[u8]) -> bool {
    if value.len() > MAX_STATE {
        return false;
    }
    let Ok(text) = std::str::from_utf8(value) else {
        return false;
    };
    let members: Vec<&str> = text
        .split(',')
        .map(|member| member.trim_matches([' ', '\t']))
        .filter(|member| !member.is_empty())
        .collect();
    !members.is_empty() && members.len() <= MAX_MEMBERS && members.iter().all(|m| member(m))
}

fn member(text: &str) -> bool {
    let Some((key, value)) = text.split_once('=') else {
        return false;
    };
    let key_ok = !key.is_empty()
        && key.len() <= 256
        && key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-*/@".contains(&b));
    let value_ok = !value.is_empty()
        && value.len() <= 256
        && value
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
        && !value.ends_with(' ');
    key_ok && value_ok
}

/// Lowercase hex digits as a number; `None` for anything else (uppercase included, as
/// the spec requires).
fn hex(digits: &[u8]) -> Option<u128> {
    if digits.is_empty() || digits.len() > 32 {
        return None;
    }
    digits.iter().try_fold(0u128, |value, digit| {
        let nibble = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            _ => return None,
        };
        Some((value << 4) | u128::from(nibble))
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn child_header_is_the_formatted_one(trace_id: u128, span_id: u64, parent: u64, flags: u8) {
            let span = CallSpan { trace_id, span_id, parent_id: Some(parent), flags };
            let formatted = format!("00-{trace_id:032x}-{span_id:016x}-{flags:02x}");
            prop_assert_eq!(span.child_header(), formatted);
        }
    }

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_well_formed_traceparent_parses() {
        let parsed = TraceParent::parse(GOOD.as_bytes()).unwrap();
        assert_eq!(parsed.trace_id, 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);
        assert_eq!(parsed.parent_id, 0x00f0_67aa_0ba9_02b7);
        assert_eq!(parsed.flags, 1);
    }

    #[test]
    fn malformed_traceparents_are_ignored() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7--1",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn the_child_keeps_the_trace_and_names_the_gateways_span() {
        let id = DecisionId::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        let incoming = TraceParent::parse(GOOD.as_bytes());
        let span = CallSpan::of(id, incoming);
        assert_eq!(
            span.child_header(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0011223344556677-01"
        );
        assert_eq!(span.parent_id, Some(0x00f0_67aa_0ba9_02b7));
        let fresh = CallSpan::of(id, None);
        assert_eq!(
            fresh.child_header(),
            "00-0123456789abcdef0011223344556677-0011223344556677-01"
        );
        assert_eq!(fresh.parent_id, None);
    }

    #[test]
    fn tracestate_is_checked_member_by_member() {
        assert!(tracestate_is_valid(
            b"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
        ));
        assert!(tracestate_is_valid(b"vendor@tenant=x"));
        for bad in [
            &b""[..],
            b"novalue",
            b"Upper=1",
            b"k=v=w",
            b"k=\x01",
            b"=v",
            &[b'a'; 600][..],
        ] {
            assert!(
                !tracestate_is_valid(bad),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    proptest! {
        /// Whatever bytes arrive, parsing never panics, and what parses prints back as
        /// the same header.
        #[test]
        fn parsing_any_bytes_is_safe_and_round_trips(value in proptest::collection::vec(any::<u8>(), 0..70)) {
            if let Some(parsed) = TraceParent::parse(&value) {
                let span = CallSpan {
                    trace_id: parsed.trace_id,
                    span_id: parsed.parent_id,
                    parent_id: None,
                    flags: parsed.flags,
                };
                let header = span.child_header();
                prop_assert_eq!(header.as_bytes(), &value[..]);
            }
        }

        #[test]
        fn every_valid_header_parses(trace in 1u128.., parent in 1u64.., flags in any::<u8>()) {
            let text = format!("00-{trace:032x}-{parent:016x}-{flags:02x}");
            let parsed = TraceParent::parse(text.as_bytes()).unwrap();
            prop_assert_eq!((parsed.trace_id, parsed.parent_id, parsed.flags), (trace, parent, flags));
        }
    }
}
