//! Key-set parsing: `Jwks::parse` never panics, and a parsed set answers lookups.
#![no_main]

use std::hint::black_box;

use gatehouse_core::token::{Alg, Jwks};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(jwks) = Jwks::parse(text) {
        assert!(!jwks.is_empty(), "a parsed key set has a key");
        for alg in [Alg::EdDSA, Alg::Es256, Alg::Rs256] {
            black_box(jwks.find(None, alg));
            black_box(jwks.find(Some("ed"), alg));
        }
    }
});
