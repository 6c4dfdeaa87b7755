//! Periods of the console's query strings (`gatehouse_core::period`): never panics; an
//! accepted period lies within its bounds, is whole hours, and its canonical text reads
//! back as the same period.
#![no_main]

use gatehouse_core::period::{DAY_MS, HOUR_MS, parse, text};
use libfuzzer_sys::fuzz_target;

const MAX_MS: i64 = 31 * DAY_MS;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Some(period_ms) = parse(input, HOUR_MS, MAX_MS) else {
        return;
    };
    assert!((HOUR_MS..=MAX_MS).contains(&period_ms), "{input:?}");
    assert_eq!(period_ms % HOUR_MS, 0, "{input:?}");
    assert_eq!(parse(&text(period_ms), HOUR_MS, MAX_MS), Some(period_ms), "{input:?}");
});
