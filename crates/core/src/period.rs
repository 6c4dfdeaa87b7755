//! A period of whole hours or days as the console's pages take it in a query string:
//! `24h`, `7d`. ASCII digits (at most four) and one unit letter, nothing else: no sign,
//! no space, no fraction, no other unit; the result must lie within the bounds the caller
//! gives. Fuzzed (`fuzz/fuzz_targets/period.rs`).

/// Milliseconds in an hour and in a day.
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// `Nh` or `Nd` in milliseconds, if well formed and within `min_ms..=max_ms`.
pub fn parse(text: &str, min_ms: i64, max_ms: i64) -> Option<i64> {
    let (number, unit_ms) = match (text.strip_suffix('h'), text.strip_suffix('d')) {
        (Some(number), _) => (number, HOUR_MS),
        (_, Some(number)) => (number, DAY_MS),
        _ => return None,
    };
    if number.is_empty() || number.len() > 4 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let period_ms = number.parse::<i64>().ok()?.checked_mul(unit_ms)?;
    (min_ms..=max_ms).contains(&period_ms).then_some(period_ms)
}

/// The shortest text [`parse`] reads as `period_ms` (whole hours), in days when whole.
pub fn text(period_ms: i64) -> String {
    if period_ms % DAY_MS == 0 {
        format!("{}d", period_ms / DAY_MS)
    } else {
        format!("{}h", period_ms / HOUR_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: i64 = 31 * DAY_MS;

    #[test]
    fn whole_hours_and_days_within_the_bounds_are_read() {
        assert_eq!(parse("1h", HOUR_MS, MAX), Some(HOUR_MS));
        assert_eq!(parse("24h", HOUR_MS, MAX), Some(DAY_MS));
        assert_eq!(parse("007d", HOUR_MS, MAX), Some(7 * DAY_MS));
        assert_eq!(parse("31d", HOUR_MS, MAX), Some(MAX));
        assert_eq!(text(DAY_MS), "1d");
        assert_eq!(text(36 * HOUR_MS), "36h");
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "", "h", "d", "0h", "32d", "745h", "24", "1.5h", "-1h", "+1h", " 1h", "1h ", "24H",
            "99999d", "1w", "１h", "1é", "é", "1hd", "1dh",
        ] {
            assert_eq!(parse(bad, HOUR_MS, MAX), None, "{bad:?}");
        }
    }
}
