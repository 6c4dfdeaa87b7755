//! The detectors: each finds spans of one kind of sensitive text in untrusted bytes.
//! Hand-written scanners over bytes (no regex engine, no allocation but the result), each
//! linear in its input, fuzzed (`fuzz/fuzz_targets/risk.rs`).

use std::ops::Range;

/// What a detector looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectorKind {
    /// AWS access key ids (`AKIA…`, `ASIA…` and their kin: 4 + 16 base32 characters).
    AwsAccessKey,
    /// PEM private keys, `-----BEGIN … PRIVATE KEY-----` to its `-----END …-----`.
    PemPrivateKey,
    /// JSON Web Tokens in compact form (`eyJ….eyJ….…`).
    Jwt,
    /// E-mail addresses.
    Email,
    /// Payment card numbers: 13 to 19 digits (single spaces or dashes between groups
    /// allowed) that pass the Luhn check.
    CardNumber,
    /// A response at least this many bytes long, whatever it holds.
    Volume,
}

impl DetectorKind {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "aws-access-key" => Self::AwsAccessKey,
            "pem-private-key" => Self::PemPrivateKey,
            "jwt" => Self::Jwt,
            "email" => Self::Email,
            "card-number" => Self::CardNumber,
            "volume" => Self::Volume,
            _ => return None,
        })
    }

    /// The spans this detector finds in `text`, in order, not overlapping. `Volume`
    /// finds nothing here: it is judged on the response's length.
    pub fn find(self, text: &[u8]) -> Vec<Range<usize>> {
        match self {
            Self::AwsAccessKey => aws_keys(text),
            Self::PemPrivateKey => pem_keys(text),
            Self::Jwt => jwts(text),
            Self::Email => emails(text),
            Self::CardNumber => cards(text),
            Self::Volume => Vec::new(),
        }
    }
}

/// The longest span a detector matches without its end being bounded by content: a
/// streamed body is scanned with this much of the previous chunk carried over, so a
/// match split between chunks is still found (a PEM block longer than this is found
/// by its header).
pub const CARRY: usize = 512;

const AWS_PREFIXES: [&[u8; 4]; 11] = [
    b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"AGPA", b"AIDA", b"AROA", b"AIPA", b"ANPA", b"ANVA",
    b"APKA",
];

fn aws_keys(text: &[u8]) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut at = 0;
    while at + 20 <= text.len() {
        let candidate = slice(text, at, at + 20);
        let is_key = AWS_PREFIXES
            .iter()
            .any(|prefix| candidate.starts_with(*prefix))
            && tail(candidate, 4)
                .iter()
                .all(|byte| byte.is_ascii_uppercase() || (b'2'..=b'7').contains(byte))
            && !before(text, at).is_some_and(|byte| byte.is_ascii_alphanumeric())
            && !text.get(at + 20).is_some_and(u8::is_ascii_alphanumeric);
        if is_key {
            found.push(at..at + 20);
            at += 20;
        } else {
            at += 1;
        }
    }
    found
}

const BEGIN: &[u8] = b"-----BEGIN ";
const KEY_END: &[u8] = b"PRIVATE KEY-----";
/// How far past its header a PEM block's end line is looked for.
const PEM_REACH: usize = 16 * 1024;

fn pem_keys(text: &[u8]) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut ends = EndLines::default();
    let mut at = 0;
    while let Some(offset) = position(tail(text, at), BEGIN) {
        let start = at + offset;
        let label = start + BEGIN.len();
        // The label (`RSA `, `EC `, `ENCRYPTED `, or none) is at most a few words.
        let header_end = tail(text, label)
            .iter()
            .take(40)
            .position(|byte| !(byte.is_ascii_uppercase() || *byte == b' '))
            .map_or(text.len().min(label + 40), |end| label + end);
        let header = slice(text, label, header_end);
        if header.ends_with(b"PRIVATE KEY") && tail(text, header_end).starts_with(b"-----") {
            let body_start = header_end + 5;
            let reach = text.len().min(body_start + PEM_REACH);
            let end = ends
                .at_or_after(text, body_start)
                .filter(|end_line| *end_line < reach)
                .and_then(|end_line| {
                    // `-----END ` + a label of a few words + `PRIVATE KEY-----`.
                    let line = slice(text, end_line, reach.min(end_line + 80));
                    position(line, KEY_END).map(|e| end_line + e + KEY_END.len())
                })
                .unwrap_or(body_start);
            found.push(start..end);
            at = end;
        } else {
            at = label;
        }
    }
    found
}

/// The `-----END ` lines of a text, found in one forward pass however many headers ask:
/// a body of headers without end lines costs one scan, not one per header.
#[derive(Debug, Default)]
struct EndLines {
    /// The first end line at or after `from`, once looked for.
    next: Option<usize>,
    from: usize,
    exhausted: bool,
}

impl EndLines {
    fn at_or_after(&mut self, text: &[u8], at: usize) -> Option<usize> {
        loop {
            match self.next {
                Some(end) if end >= at => return Some(end),
                _ if self.exhausted => return None,
                _ => {}
            }
            let from = self.from.max(at);
            match position(tail(text, from), b"-----END ") {
                Some(offset) => {
                    self.next = Some(from + offset);
                    self.from = from + offset + 1;
                }
                None => {
                    self.exhausted = true;
                    self.next = None;
                }
            }
        }
    }
}

fn is_base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

fn jwts(text: &[u8]) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = position(tail(text, at), b"eyJ") {
        let start = at + offset;
        if before(text, start).is_some_and(is_base64url) {
            at = start + 3;
            continue;
        }
        match jwt_at(text, start) {
            Some(end) => {
                found.push(start..end);
                at = end;
            }
            None => at = start + 3,
        }
    }
    found
}

/// The end of a compact JWT starting at `start`: a header and a payload that both
/// start `eyJ` (base64 of `{"`), and a signature, possibly empty.
fn jwt_at(text: &[u8], start: usize) -> Option<usize> {
    let segment_end = |from: usize| {
        tail(text, from)
            .iter()
            .position(|byte| !is_base64url(*byte))
            .map_or(text.len(), |end| from + end)
    };
    let header_end = segment_end(start);
    if header_end - start < 10 || text.get(header_end) != Some(&b'.') {
        return None;
    }
    let payload = header_end + 1;
    if !tail(text, payload).starts_with(b"eyJ") {
        return None;
    }
    let payload_end = segment_end(payload);
    if payload_end - payload < 4 || text.get(payload_end) != Some(&b'.') {
        return None;
    }
    Some(segment_end(payload_end + 1))
}

fn is_local(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"._%+-".contains(&byte)
}

fn is_domain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'-'
}

fn emails(text: &[u8]) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut floor = 0;
    for (at, _) in text.iter().enumerate().filter(|(_, byte)| **byte == b'@') {
        if at < floor {
            continue;
        }
        let start = slice(text, floor, at)
            .iter()
            .rposition(|byte| !is_local(*byte))
            .map_or(floor, |p| floor + p + 1);
        let mut end = tail(text, at + 1)
            .iter()
            .position(|byte| !is_domain(*byte))
            .map_or(text.len(), |p| at + 1 + p);
        while end > at + 1 && matches!(before(text, end), Some(b'.' | b'-')) {
            end -= 1;
        }
        let domain = slice(text, at + 1, end);
        let tld = domain
            .rsplit(|byte| *byte == b'.')
            .next()
            .unwrap_or_default();
        let valid = start < at
            && domain.contains(&b'.')
            && !domain.starts_with(b".")
            && tld.len() >= 2
            && tld.iter().all(u8::is_ascii_alphabetic);
        if valid {
            found.push(start..end);
            floor = end;
        }
    }
    found
}

fn cards(text: &[u8]) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let starts_run = text.get(at).is_some_and(u8::is_ascii_digit)
            && !before(text, at).is_some_and(|byte| byte.is_ascii_digit());
        if !starts_run {
            at += 1;
            continue;
        }
        let (end, digits) = card_run(text, at);
        if (13..=19).contains(&digits.len()) && luhn(&digits) {
            found.push(at..end);
        }
        at = end.max(at + 1);
    }
    found
}

/// Digits from `start`, single spaces or dashes between them; the run ends before a
/// separator not followed by a digit. Stops at 20 digits (too long to be a card).
fn card_run(text: &[u8], start: usize) -> (usize, Vec<u8>) {
    let mut digits = Vec::with_capacity(19);
    let mut at = start;
    let mut end = start;
    while let Some(&byte) = text.get(at) {
        if digits.len() > 19 {
            break;
        }
        if byte.is_ascii_digit() {
            digits.push(byte - b'0');
            at += 1;
            end = at;
        } else if (byte == b' ' || byte == b'-') && text.get(at + 1).is_some_and(u8::is_ascii_digit)
        {
            at += 1;
        } else {
            break;
        }
    }
    (end, digits)
}

/// The Luhn check digit test (ISO/IEC 7812-1).
pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(index, digit)| {
            let digit = u32::from(*digit);
            if !index.is_multiple_of(2) {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `text[from..to]`, empty where that is out of bounds.
fn slice(text: &[u8], from: usize, to: usize) -> &[u8] {
    text.get(from..to).unwrap_or_default()
}

/// `text[from..]`, empty where that is out of bounds.
fn tail(text: &[u8], from: usize) -> &[u8] {
    text.get(from..).unwrap_or_default()
}

/// The byte before `at`, if any.
fn before(text: &[u8], at: usize) -> Option<u8> {
    at.checked_sub(1).and_then(|index| text.get(index)).copied()
}

fn position(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(kind: DetectorKind, text: &str) -> Vec<&str> {
        kind.find(text.as_bytes())
            .into_iter()
            .map(|span| &text[span])
            .collect()
    }

    #[test]
    fn aws_keys_are_found_whole_and_not_inside_longer_words() {
        let text = "key=AKIAIOSFODNN7EXAMPLE, not XAKIAIOSFODNN7EXAMPLE nor AKIAIOSFODNN7EXAMPLEX";
        assert_eq!(
            found(DetectorKind::AwsAccessKey, text),
            ["AKIAIOSFODNN7EXAMPLE"]
        );
        assert!(found(DetectorKind::AwsAccessKey, "AKIAiosfodnn7example").is_empty());
    }

    #[test]
    fn a_pem_private_key_is_found_from_header_to_end_line_and_a_certificate_is_not() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----";
        let text = format!("a {key} b");
        assert_eq!(found(DetectorKind::PemPrivateKey, &text), [key]);
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert!(found(DetectorKind::PemPrivateKey, cert).is_empty());
        let header = "-----BEGIN PRIVATE KEY-----";
        assert_eq!(found(DetectorKind::PemPrivateKey, header), [header]);
        // A header runs to the next end line within reach: the first block swallows the key.
        let twice = format!("{header} {key} {header}");
        let first = format!("{header} {key}");
        assert_eq!(
            found(DetectorKind::PemPrivateKey, &twice),
            [first.as_str(), header]
        );
    }

    #[test]
    fn many_headers_without_end_lines_cost_one_pass() {
        let text = "-----BEGIN PRIVATE KEY-----x".repeat(20_000);
        let started = std::time::Instant::now();
        assert_eq!(
            DetectorKind::PemPrivateKey.find(text.as_bytes()).len(),
            20_000
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn a_compact_jwt_is_found_and_a_lone_base64_word_is_not() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl";
        let text = format!("Bearer {jwt}\n");
        assert_eq!(found(DetectorKind::Jwt, &text), [jwt]);
        assert!(found(DetectorKind::Jwt, "eyJhbGciOiJIUzI1NiJ9 alone").is_empty());
    }

    #[test]
    fn emails_are_found_with_their_whole_domain_and_bare_at_signs_are_not() {
        let text =
            r#"{"to":"ann.lee+x@mail.example.com.","cc":"@handle","x":"a@b","y":"me@host.c0m"}"#;
        assert_eq!(
            found(DetectorKind::Email, text),
            ["ann.lee+x@mail.example.com"]
        );
    }

    #[test]
    fn card_numbers_pass_luhn_with_or_without_separators_and_others_do_not() {
        let text = "4111 1111 1111 1111 and 5500-0000-0000-0004 but not 4111111111111112 nor 12345";
        assert_eq!(
            found(DetectorKind::CardNumber, text),
            ["4111 1111 1111 1111", "5500-0000-0000-0004"]
        );
        assert!(found(DetectorKind::CardNumber, "41111111111111110000000").is_empty());
    }
}
