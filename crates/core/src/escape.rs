//! The two ways a text is quoted for the gateway's own writers: as serde_json writes a
//! string (event lines, the access log's JSON format) and as `str`'s `Debug` quotes it
//! (the access log's text format). Most texts need no escape at all, so the scan for the
//! first byte that does reads eight bytes at a time, and the plain runs are copied whole.

/// Where quoted text goes: a `String` (an event line) or bytes (a log line).
pub trait Out {
    fn text(&mut self, text: &str);
    /// `"`, pushed as one byte: a one-byte `text` costs a `memcpy` call.
    fn quote(&mut self);
}

impl Out for String {
    fn text(&mut self, text: &str) {
        self.push_str(text);
    }
    fn quote(&mut self) {
        self.push('"');
    }
}

impl Out for Vec<u8> {
    fn text(&mut self, text: &str) {
        self.extend_from_slice(text.as_bytes());
    }
    fn quote(&mut self) {
        self.push(b'"');
    }
}

/// `text` up to `end` and from it. `end` always falls before an ASCII byte, so on a
/// character boundary; the fallbacks never happen.
fn split(text: &str, end: usize) -> (&str, &str) {
    text.split_at_checked(end).unwrap_or((text, ""))
}

/// `<str as Debug>::fmt`: quoted; runs of printable ASCII other than `\` and `"` as
/// they are, every other character as `char::escape_debug` writes it (the same
/// escapes: `\n`, `\"`, `\u{1b}`, grapheme extenders). The single quote alone is
/// escaped by `escape_debug` and not by `str`'s `Debug`, and it is printable ASCII, so
/// it never reaches that branch.
pub fn debug_str(out: &mut impl Out, value: &str) {
    quoted(out, value, debug_word, debug_byte, |out, escaped| {
        let mut chars = escaped.chars();
        if let Some(c) = chars.next() {
            let mut utf8 = [0; 4];
            for piece in c.escape_debug() {
                out.text(piece.encode_utf8(&mut utf8));
            }
        }
        chars.as_str()
    });
}

/// serde_json's string escaping (`format_escaped_str`): `"` and `\` backslashed, the
/// control characters below 0x20 as `\b \t \n \f \r` or `\u00xx` (lowercase hex);
/// everything else, DEL and non-ASCII included, as it is.
pub fn json_string(out: &mut impl Out, value: &str) {
    quoted(out, value, json_word, json_byte, |out, escaped| {
        let (byte, after) = split(escaped, 1);
        out.text(json_escape(byte));
        after
    });
}

/// `value` in quotes: the plain runs (no byte `byte` is true for; `word` says so of eight
/// at a time) copied whole, and `escape` writing the escape of the character each other
/// run starts with, returning what follows it.
fn quoted<O: Out>(
    out: &mut O,
    value: &str,
    word: impl Fn(u64) -> bool + Copy,
    byte: impl Fn(u8) -> bool + Copy,
    escape: impl for<'v> Fn(&mut O, &'v str) -> &'v str,
) {
    out.quote();
    let mut rest = value;
    while let Some(start) = first(rest.as_bytes(), word, byte) {
        let (plain, escaped) = split(rest, start);
        out.text(plain);
        rest = escape(out, escaped);
    }
    out.text(rest);
    out.quote();
}

/// The escape of one byte `json_byte` is true for, given as its one-byte text.
fn json_escape(byte: &str) -> &'static str {
    /// Each control character's escape, by value: serde_json's short one where it has
    /// one, else `\u00xx` in lowercase hex.
    const CONTROLS: [&str; 32] = [
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f", "\\u0010", "\\u0011",
        "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019",
        "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    ];
    match byte {
        "\"" => "\\\"",
        "\\" => "\\\\",
        other => other
            .bytes()
            .next()
            .and_then(|control| CONTROLS.get(usize::from(control)))
            .copied()
            .unwrap_or(""),
    }
}

/// Ones in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte of a word.
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of `word` is below `n` (at most 0x80): subtracting `n` from a byte
/// below it borrows into its high bit, which `!word` keeps only for bytes that had
/// none. A borrow can flag a later byte falsely only after a true one, so "any" is
/// exact.
fn any_below(word: u64, n: u64) -> bool {
    word.wrapping_sub(ONES * n) & !word & HIGHS != 0
}

/// Whether any byte of `word` is `byte`.
fn any_equal(word: u64, byte: u8) -> bool {
    any_below(word ^ (ONES * u64::from(byte)), 1)
}

/// The bytes `str`'s `Debug` does not copy as they are: all but printable ASCII, and
/// `\` and `"`.
fn debug_byte(byte: u8) -> bool {
    !(0x20..=0x7e).contains(&byte) || byte == b'\\' || byte == b'"'
}

fn debug_word(word: u64) -> bool {
    word & HIGHS != 0
        || any_below(word, 0x20)
        || any_equal(word, 0x7f)
        || any_equal(word, b'"')
        || any_equal(word, b'\\')
}

/// The bytes serde_json escapes: control characters, `"` and `\`.
fn json_byte(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

fn json_word(word: u64) -> bool {
    any_below(word, 0x20) || any_equal(word, b'"') || any_equal(word, b'\\')
}

/// The index of the first byte `byte` is true for: whole words are skipped while
/// `word` says none of their bytes is, the rest is searched byte by byte.
fn first(bytes: &[u8], word: impl Fn(u64) -> bool, byte: impl Fn(u8) -> bool) -> Option<usize> {
    let mut start = 0;
    for chunk in bytes.chunks_exact(8) {
        let clean = <[u8; 8]>::try_from(chunk).is_ok_and(|chunk| !word(u64::from_le_bytes(chunk)));
        if !clean {
            break;
        }
        start += 8;
    }
    let found = bytes.get(start..)?.iter().position(|&b| byte(b))?;
    Some(start + found)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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

    proptest! {
        /// Whatever the text, and into either kind of output, the quoting is serde_json's
        /// and `Debug`'s.
        #[test]
        fn any_text_is_quoted_as_the_references_quote_it(
            value in prop_oneof![any::<String>(), "[\\x00-\\x1f\"\\\\\\x7f a-z é✓\u{301}]{0,24}"],
        ) {
            let mut text = String::new();
            json_string(&mut text, &value);
            prop_assert_eq!(&text, &serde_json::to_string(&value).unwrap());
            prop_assert_eq!(json(&value), text);
            let mut text = String::new();
            debug_str(&mut text, &value);
            prop_assert_eq!(&text, &format!("{value:?}"));
            prop_assert_eq!(debug(&value), text);
        }

        /// The word-at-a-time scan finds what a byte-by-byte one finds, wherever the
        /// byte sits in its word and whatever its neighbours.
        #[test]
        fn the_scan_finds_the_first_byte_to_escape(
            bytes in proptest::collection::vec(
                // Mostly plain, so a word holds one byte to escape among plain ones.
                prop_oneof![
                    16 => 0x20u8..0x7f,
                    1 => any::<u8>(),
                    1 => Just(b'"'),
                    1 => Just(b'\\'),
                    1 => Just(0x7f),
                    1 => Just(0x1f),
                ],
                0..40,
            ),
        ) {
            prop_assert_eq!(
                first(&bytes, debug_word, debug_byte),
                bytes.iter().position(|&b| debug_byte(b))
            );
            prop_assert_eq!(
                first(&bytes, json_word, json_byte),
                bytes.iter().position(|&b| json_byte(b))
            );
        }
    }
}
