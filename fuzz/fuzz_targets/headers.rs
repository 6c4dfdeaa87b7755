//! Request-header hygiene: `judge` never panics, its verdict does not depend on case or
//! on `_` versus `-`, nothing it keeps is a refused, replaced, hop-by-hop or
//! `gatehouse-*` name once folded, and `has_method_param` never panics.
#![no_main]

use std::hint::black_box;

use gatehouse_core::headers::{
    GATEHOUSE_PREFIX, HOP_BY_HOP, REFUSED, REPLACED, STRIPPED, Verdict, has_method_param, judge,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    black_box(has_method_param(text));
    // First line: a secret header name; every further line: a header name.
    let mut lines = text.split('\n');
    let secret = lines.next().map(folded).filter(|secret| !secret.is_empty());
    for name in lines {
        let verdict = judge(name, secret.as_deref());
        let folded = folded(name);
        assert_eq!(judge(&folded, secret.as_deref()), verdict, "{name:?}");
        if verdict == Verdict::Keep {
            assert!(!is_listed(&folded), "{name:?} kept");
            assert!(Some(&folded) != secret.as_ref(), "{name:?} kept");
        }
    }
});

fn folded(name: &str) -> String {
    name.chars()
        .map(|char| match char {
            '_' => '-',
            char => char.to_ascii_lowercase(),
        })
        .collect()
}

fn is_listed(folded: &str) -> bool {
    REFUSED.iter().any(|(name, _)| *name == folded)
        || HOP_BY_HOP.contains(&folded)
        || STRIPPED.contains(&folded)
        || REPLACED.contains(&folded)
        || folded.starts_with(GATEHOUSE_PREFIX)
}
