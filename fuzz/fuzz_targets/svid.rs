//! X.509-SVID reading: `svid::spiffe_id` never panics on any bytes, and what it accepts
//! is a SPIFFE ID with no character a registry lookup or a log could read differently.
#![no_main]

use std::hint::black_box;

use gatehouse_core::svid::spiffe_id;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = black_box(spiffe_id(data)) {
        let rest = id.strip_prefix("spiffe://").expect("the scheme was checked");
        assert!(!rest.is_empty() && rest.len() <= 2039, "{id}");
        assert!(
            rest.bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"./-_".contains(&byte)),
            "{id}"
        );
        assert!(!rest.contains("//") && !rest.ends_with('/'), "{id}");
    }
});
