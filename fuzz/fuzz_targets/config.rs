//! Configuration parsing: `parse_document` never panics on any UTF-8 text.
#![no_main]

use std::hint::black_box;

use gatehouse_core::config::parse_document;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        black_box(parse_document(text).is_ok());
    }
});
