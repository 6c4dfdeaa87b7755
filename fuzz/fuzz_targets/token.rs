//! Token parsing and verification: `decode` never panics, and whatever decodes is read as
//! every claim set the gateway uses and verified against a fixed key set.
#![no_main]

use std::hint::black_box;
use std::sync::LazyLock;

use gatehouse_core::clock::UnixTime;
use gatehouse_core::token::{self, Alg, AssertionClaims, Jwks, TaskClaims};
use libfuzzer_sys::fuzz_target;

/// One Ed25519, one P-256 and one RSA public key; `seeds/token` holds tokens they verify.
static KEYS: LazyLock<Jwks> = LazyLock::new(|| {
    Jwks::parse(include_str!("../keys.jwks.json")).expect("the fixed key set parses")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(jwt) = token::decode(text) else {
        return;
    };
    let _ = black_box(jwt.claims::<serde_json::Value>());
    let _ = black_box(jwt.claims::<TaskClaims>());
    if let Ok(claims) = jwt.claims::<AssertionClaims>() {
        let now = UnixTime::from_secs(1_999_999_990);
        let _ = black_box(token::check_times(&claims.times(), now, 30, None));
    }
    let header = jwt.header();
    if let Some(key) = KEYS.find(header.kid.as_deref(), header.alg) {
        let _ = black_box(jwt.verify(key));
    }
    // Keys of every type, including ones that do not fit the header's algorithm.
    for alg in [Alg::EdDSA, Alg::Es256, Alg::Rs256] {
        if let Some(key) = KEYS.find(None, alg) {
            let _ = black_box(jwt.verify(key));
        }
    }
});
