//! Form and query decoding (`gatehouse_core::form`): never panics; what it decodes, encoded
//! again by the rules it reads, decodes to the same pairs; a key it accepts as distinct
//! is never repeated; and a decoded `_method` key (any case) is always caught by
//! `has_method_param`, however it was percent-encoded.
#![no_main]

use gatehouse_core::form::{FormError, distinct_pairs, pairs};
use gatehouse_core::headers::has_method_param;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let decoded: Result<Vec<(String, String)>, FormError> = pairs(text).collect();
    let Ok(decoded) = decoded else {
        return;
    };
    let again = decoded
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let round: Result<Vec<(String, String)>, FormError> = pairs(&again).collect();
    assert_eq!(round.as_ref().ok(), Some(&decoded), "{text:?}");
    if decoded.iter().any(|(key, _)| key.eq_ignore_ascii_case("_method")) {
        assert!(has_method_param(text), "{text:?}");
    }
    if let Ok(distinct) = distinct_pairs(text) {
        let mut keys: Vec<&String> = distinct.iter().map(|(key, _)| key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), distinct.len(), "{text:?}");
    }
});

/// Every byte but unreserved ASCII as `%XX`.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}
