//! Request-path classification at the trust boundary: a path is accepted only when
//! every reader (Gatehouse, a proxy in between, the upstream) must agree on what it
//! names, and then matched against route templates to find the call's intent.
//!
//! Anything a server might normalise differently is refused rather than guessed at:
//! dot segments (also `..;x`, which Java servers read as `..`), encoded dots, slashes
//! and backslashes, double encoding, empty segments, backslashes, control characters,
//! raw non-ASCII bytes and percent-decoded bytes that are not UTF-8 (so overlong forms
//! such as `%c0%ae` are refused too).

mod routes;
mod template;

use std::borrow::Cow;

pub use routes::RouteTable;
pub use template::{PathTemplate, TemplateError};

/// The longest request path accepted, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// A request path (raw as received, without the query) that is unambiguous once decoded.
/// It borrows the request's bytes: a segment is copied only when it had escapes to decode,
/// since this runs on every call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafePath<'a> {
    raw: &'a str,
    // INVARIANT: each segment is non-empty, is neither `.` nor `..`, and contains no
    // `/`, `\` or control character; `/` alone has no segments.
    segments: Vec<Cow<'a, str>>,
}

/// Why a request path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is {len} bytes, longer than {MAX_PATH_LEN}")]
    TooLong { len: usize },
    #[error("path does not start with `/`")]
    NotAbsolute,
    #[error("empty segment (`//` or a trailing `/`)")]
    EmptySegment,
    #[error("`..` segment")]
    ParentSegment,
    #[error("`.` segment")]
    CurrentSegment,
    #[error("encoded dot (`%2e`)")]
    EncodedDot,
    #[error("encoded slash (`%2f`)")]
    EncodedSlash,
    #[error("encoded backslash (`%5c`)")]
    EncodedBackslash,
    #[error("double percent-encoding (`%25` followed by two hex digits)")]
    DoubleEncoding,
    #[error("backslash")]
    Backslash,
    #[error("invalid percent-encoding (`%` not followed by two hex digits)")]
    InvalidPercentEncoding,
    #[error("invalid utf-8 after decoding")]
    InvalidUtf8,
    #[error("control character or nul (raw or encoded)")]
    ControlCharacter,
    #[error("raw non-ascii byte (percent-encode it)")]
    NonAscii,
    #[error("character `{0}` is not allowed in a path")]
    ForbiddenCharacter(char),
    #[error("`U+{code:04X}` is a compatibility form of `{plain}`")]
    CompatibilityForm { code: u32, plain: char },
}

/// Checks and decodes a raw request path.
pub fn parse_request_path(raw: &[u8]) -> Result<SafePath<'_>, PathError> {
    if raw.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong { len: raw.len() });
    }
    let Some((b'/', rest)) = raw.split_first() else {
        return Err(PathError::NotAbsolute);
    };
    let segments = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split(|&byte| byte == b'/')
            .map(segment)
            .collect::<Result<Vec<_>, _>>()?
    };
    // Every byte was checked to be ASCII above, so this cannot fail.
    let raw = std::str::from_utf8(raw).map_err(|_| PathError::NonAscii)?;
    Ok(SafePath { raw, segments })
}

impl<'a> SafePath<'a> {
    /// The path exactly as received.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The percent-decoded segments; none for `/`.
    pub fn segments(&self) -> &[Cow<'a, str>] {
        &self.segments
    }

    /// The path below its first `skip` segments (`/` when none are left), without parsing
    /// again: encoded slashes are refused, so every raw `/` is a segment boundary.
    pub fn below(mut self, skip: usize) -> SafePath<'a> {
        let start = self
            .raw
            .match_indices('/')
            .nth(skip)
            .map_or(self.raw.len(), |(at, _)| at);
        let raw = self
            .raw
            .get(start..)
            .filter(|rest| !rest.is_empty())
            .unwrap_or("/");
        // INVARIANT: a tail of valid segments is valid.
        self.segments.drain(..skip.min(self.segments.len()));
        SafePath {
            raw,
            segments: self.segments,
        }
    }
}

/// Checks and decodes one raw segment, borrowing it when it has nothing to decode.
fn segment(raw: &[u8]) -> Result<Cow<'_, str>, PathError> {
    if raw.is_empty() {
        return Err(PathError::EmptySegment);
    }
    // `..;jsessionid=x` is `..` to servlet containers: path parameters don't hide a dot
    // segment. Encoded dots are refused below, so raw dots are all the dots there are.
    let name = raw.split(|&byte| byte == b';').next().unwrap_or(raw);
    match name {
        b"." => return Err(PathError::CurrentSegment),
        b".." => return Err(PathError::ParentSegment),
        _ => {}
    }
    if !raw.contains(&b'%') {
        for &byte in raw {
            raw_byte(byte)?;
        }
        // Every byte is printable ASCII (raw_byte), so this cannot fail.
        let text = std::str::from_utf8(raw).map_err(|_| PathError::NonAscii)?;
        return Ok(Cow::Borrowed(text));
    }
    let decoded = String::from_utf8(percent_decode(raw)?).map_err(|_| PathError::InvalidUtf8)?;
    for char in decoded.chars() {
        if char.is_control() {
            return Err(PathError::ControlCharacter);
        }
        if let Some(plain) = compatibility_form(char) {
            return Err(PathError::CompatibilityForm {
                code: u32::from(char),
                plain,
            });
        }
    }
    Ok(Cow::Owned(decoded))
}

/// Percent-decodes one segment, refusing raw bytes that do not belong in a path and
/// escapes that would change the path's structure once decoded.
fn percent_decode(raw: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut decoded = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().copied();
    while let Some(byte) = bytes.next() {
        if byte != b'%' {
            decoded.push(raw_byte(byte)?);
            continue;
        }
        let value = hex_pair(bytes.next(), bytes.next())?;
        match value {
            b'.' => return Err(PathError::EncodedDot),
            b'/' => return Err(PathError::EncodedSlash),
            b'\\' => return Err(PathError::EncodedBackslash),
            b'%' if starts_with_hex_pair(bytes.clone()) => return Err(PathError::DoubleEncoding),
            _ => decoded.push(value),
        }
    }
    Ok(decoded)
}

/// The ASCII character that `char` becomes under Unicode compatibility normalisation
/// (NFKC), for the characters that give a path structure: an upstream that normalises
/// would read `%EF%BC%8E%EF%BC%8E` (`．．`) as `..`. Only decoded escapes can hold them,
/// since raw non-ASCII is refused.
fn compatibility_form(char: char) -> Option<char> {
    Some(match char {
        '\u{FF0E}' | '\u{FE52}' | '\u{2024}' | '\u{2025}' | '\u{2026}' => '.',
        '\u{FF0F}' => '/',
        '\u{FF3C}' | '\u{FE68}' => '\\',
        '\u{FF05}' | '\u{FE6A}' => '%',
        '\u{FF1B}' | '\u{FE54}' => ';',
        '\u{FF03}' | '\u{FE5F}' => '#',
        '\u{FF1F}' | '\u{FE56}' => '?',
        _ => return None,
    })
}

/// Whether a raw path carries a `;`, raw or encoded (`%3b`): servlet containers strip
/// what follows as a path parameter, so the tool may see another path than the one
/// decided. Refused unless the route allows matrix parameters.
pub fn has_semicolon(raw: &str) -> bool {
    raw.contains(';')
        || (raw.contains('%')
            && raw
                .as_bytes()
                .windows(3)
                .any(|window| window.eq_ignore_ascii_case(b"%3b")))
}

/// A byte that may appear unencoded in a segment.
fn raw_byte(byte: u8) -> Result<u8, PathError> {
    match byte {
        b'\\' => Err(PathError::Backslash),
        0x00..=0x1f | 0x7f => Err(PathError::ControlCharacter),
        0x80..=0xff => Err(PathError::NonAscii),
        b'?' | b'#' | b' ' => Err(PathError::ForbiddenCharacter(char::from(byte))),
        _ => Ok(byte),
    }
}

fn hex_pair(high: Option<u8>, low: Option<u8>) -> Result<u8, PathError> {
    let digit = |byte: Option<u8>| {
        byte.and_then(|byte| char::from(byte).to_digit(16))
            .ok_or(PathError::InvalidPercentEncoding)
    };
    let value = digit(high)? * 16 + digit(low)?;
    // INVARIANT: two hex digits make at most 0xff.
    u8::try_from(value).map_err(|_| PathError::InvalidPercentEncoding)
}

fn starts_with_hex_pair(mut rest: impl Iterator<Item = u8>) -> bool {
    hex_pair(rest.next(), rest.next()).is_ok()
}

#[cfg(test)]
mod tests;
