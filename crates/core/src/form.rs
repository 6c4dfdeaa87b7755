//! The one decoder of `application/x-www-form-urlencoded` text (WHATWG URL, "application/
//! x-www-form-urlencoded parsing"): form bodies (token requests, console forms) and query
//! strings (control-plane filters, typed route arguments, the `_method` check) all read
//! through it, so no two of them can disagree on what a request says.
//!
//! Hand-written rather than the `form_urlencoded` crate on purpose: that crate decodes
//! bytes that are not UTF-8 to U+FFFD, so two different requests can decode to the same
//! fields, and the one that policy saw need not be the one a tool reads. Here a pair that
//! is not UTF-8 once decoded is an error, and so is a key given twice where the caller
//! asks for distinct keys.

use percent_encoding::percent_decode_str;

/// Why form text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("a form field is not UTF-8 once decoded")]
    NotUtf8,
    #[error("field `{0}` is repeated")]
    Repeated(String),
}

/// The decoded `(key, value)` pairs in order; empty pairs (`a=1&&b=2`) are skipped and a
/// pair without `=` has an empty value, as browsers and web frameworks read them.
pub fn pairs(text: &str) -> impl Iterator<Item = Result<(String, String), FormError>> + '_ {
    text.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        Ok((decode(key)?, decode(value)?))
    })
}

/// The pairs, refusing a key given twice.
pub fn distinct_pairs(text: &str) -> Result<Vec<(String, String)>, FormError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for pair in pairs(text) {
        let (key, value) = pair?;
        if fields.iter().any(|(seen, _)| *seen == key) {
            return Err(FormError::Repeated(key));
        }
        fields.push((key, value));
    }
    Ok(fields)
}

/// One key or value: `+` is a space, then `%XX` escapes; the result must be UTF-8.
pub fn decode(text: &str) -> Result<String, FormError> {
    if !text.contains(['+', '%']) {
        return Ok(text.to_owned());
    }
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| FormError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Result<Vec<(String, String)>, FormError> {
        pairs(text).collect()
    }

    #[test]
    fn decodes_as_browsers_encode() {
        let decoded = all("a=1&b=two+words&&c&d=%2B%26%3D&e=caf%C3%A9").unwrap();
        let expected = [
            ("a", "1"),
            ("b", "two words"),
            ("c", ""),
            ("d", "+&="),
            ("e", "café"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn refuses_what_is_not_utf8_instead_of_replacing_it() {
        assert_eq!(all("a=%FF"), Err(FormError::NotUtf8));
        assert_eq!(all("%C3=1"), Err(FormError::NotUtf8));
        // A literal replacement character, properly encoded, is text like any other.
        assert_eq!(all("a=%EF%BF%BD").unwrap()[0].1, "\u{fffd}");
    }

    #[test]
    fn distinct_pairs_refuse_a_repeated_key_even_when_encoded_differently() {
        assert_eq!(
            distinct_pairs("grant=a&gr%61nt=b"),
            Err(FormError::Repeated("grant".to_owned()))
        );
        assert_eq!(distinct_pairs("a=1&b=2").unwrap().len(), 2);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_decoding_is_total_on_ascii_text(text in "[ -~]{0,64}") {
            let _ = all(&text);
        }
    }
}
