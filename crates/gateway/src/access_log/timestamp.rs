//! The log line's timestamp, written as tracing-subscriber's default timer
//! (`fmt::time::SystemTime`) writes it: RFC 3339 in UTC with microseconds and `Z`,
//! `2026-12-05T18:44:37.348957Z`. Written digit by digit into the line, without
//! `core::fmt`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Appends `time` to `out`.
pub(crate) fn write(out: &mut Vec<u8>, time: SystemTime) {
    let (seconds, nanos) = unix(time);
    let (year, month, day) = civil(seconds.div_euclid(86_400));
    // INVARIANT: 0 <= the second of the day < 86 400, so it fits a u32.
    let of_day = u32::try_from(seconds.rem_euclid(86_400)).unwrap_or(0);
    let micros = nanos / 1_000;
    year_digits(out, year);
    // Fixed width from here on: the fields go into a template by position.
    let mut rest = *b"-00-00T00:00:00.000000Z";
    for (at, value) in [
        (1, u32::from(month)),
        (4, u32::from(day)),
        (7, of_day / 3600),
        (10, of_day / 60 % 60),
        (13, of_day % 60),
        (16, micros / 10_000),
        (18, micros / 100 % 100),
        (20, micros % 100),
    ] {
        if let Some(pair) = rest.get_mut(at..at + 2) {
            pair.copy_from_slice(&two_digits(value));
        }
    }
    out.extend_from_slice(&rest);
}

/// `value` (below 100) as two ASCII digits.
fn two_digits(value: u32) -> [u8; 2] {
    // INVARIANT: both are below 10 for a value below 100, one ASCII digit each.
    [b'0' + (value / 10 % 10) as u8, b'0' + (value % 10) as u8]
}

/// Seconds since the epoch (negative before it) and the nanoseconds into that second,
/// as tracing-subscriber splits a time before 1970.
fn unix(time: SystemTime) -> (i64, u32) {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => (clamp(since.as_secs()), since.subsec_nanos()),
        Err(before) => {
            let before = before.duration();
            let (seconds, nanos) = (clamp(before.as_secs()), before.subsec_nanos());
            if nanos == 0 {
                (-seconds, 0)
            } else {
                (-seconds - 1, 1_000_000_000 - nanos)
            }
        }
    }
}

fn clamp(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`; the same calendar as tracing-subscriber's musl-derived one).
fn civil(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let of_era = z.rem_euclid(146_097);
    let year_of_era = (of_era - of_era / 1460 + of_era / 36_524 - of_era / 146_096) / 365;
    let of_year = of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * of_year + 2) / 153;
    let day = of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // INVARIANT: 1 <= month <= 12 and 1 <= day <= 31.
    let narrow = |value: i64| u8::try_from(value).unwrap_or(0);
    (year, narrow(month), narrow(day))
}

/// Four digits, as tracing-subscriber writes a year; `+12345` past 9999 and `-0001`
/// (five characters, sign included) before year 0.
fn year_digits(out: &mut Vec<u8>, year: i64) {
    if let Ok(year @ 0..=9999) = u32::try_from(year) {
        let [a, b] = two_digits(year / 100);
        let [c, d] = two_digits(year % 100);
        out.extend_from_slice(&[a, b, c, d]);
    } else if year > 9999 {
        out.push(b'+');
        decimal(out, year.unsigned_abs());
    } else {
        out.push(b'-');
        digits(out, year.unsigned_abs(), 4);
    }
}

/// `value` in decimal, zero-padded to at least `width` digits.
pub(crate) fn digits(out: &mut Vec<u8>, value: u64, width: usize) {
    let mut buffer = [b'0'; 20];
    let mut rest = value;
    let mut start = buffer.len();
    while rest > 0 || start == buffer.len() {
        start -= 1;
        if let Some(slot) = buffer.get_mut(start) {
            // INVARIANT: rest % 10 < 10, one ASCII digit.
            *slot = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
    }
    let start = start.min(buffer.len().saturating_sub(width));
    out.extend_from_slice(buffer.get(start..).unwrap_or_default());
}

/// `value` in decimal, as `Debug` and serde_json write an integer.
pub(crate) fn decimal(out: &mut Vec<u8>, value: u64) {
    digits(out, value, 1);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    fn text(time: SystemTime) -> String {
        let mut out = Vec::new();
        write(&mut out, time);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn known_instants_read_as_tracing_subscriber_writes_them() {
        let at = |seconds: u64, micros: u64| {
            text(UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_micros(micros))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 1), "2000-02-29T00:00:00.000001Z");
        assert_eq!(at(1_796_496_277, 348_957), "2026-12-05T18:44:37.348957Z");
        assert_eq!(at(253_402_300_799, 999_999), "9999-12-31T23:59:59.999999Z");
        assert_eq!(at(253_402_300_800, 0), "+10000-01-01T00:00:00.000000Z");
        // Sub-microsecond nanoseconds are cut, not rounded.
        let nanos = UNIX_EPOCH + Duration::from_nanos(1_999);
        assert_eq!(text(nanos), "1970-01-01T00:00:00.000001Z");
        let before = UNIX_EPOCH - Duration::from_micros(1);
        assert_eq!(text(before), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn digits_pad_to_their_width_and_never_cut() {
        let mut out = Vec::new();
        digits(&mut out, 7, 2);
        out.push(b' ');
        digits(&mut out, 0, 6);
        out.push(b' ');
        digits(&mut out, 12_345, 2);
        out.push(b' ');
        decimal(&mut out, u64::MAX);
        assert_eq!(out, b"07 000000 12345 18446744073709551615");
    }

    proptest! {
        /// humantime writes the same RFC 3339 form for years 1970 to 9999: an
        /// independent calendar to check this one against.
        #[test]
        fn any_instant_reads_as_humantime_writes_it(
            seconds in 0u64..253_402_300_800,
            nanos in 0u32..1_000_000_000,
        ) {
            let time = UNIX_EPOCH + Duration::new(seconds, nanos);
            let expected = humantime::format_rfc3339_micros(time).to_string();
            prop_assert_eq!(text(time), expected);
        }
    }
}
