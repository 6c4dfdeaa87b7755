use proptest::prelude::*;

use super::*;

fn count(intent: &str, hour: i64, calls: u64, bytes: u64) -> HourCount {
    HourCount {
        agent: "a".to_owned(),
        intent: intent.to_owned(),
        hour,
        calls,
        bytes,
    }
}

/// Day 20_000 (a Unix hour at midnight UTC), so hours of day read plainly.
const DAY0: i64 = 20_000 * 24;

#[test]
fn a_window_ends_before_the_hour_being_judged() {
    let now_ms = (DAY0 + 7 * 24 + 5) * MS_PER_HOUR + 1_234;
    let window = Window::ending(now_ms, 7);
    assert_eq!(window.to_hour, DAY0 + 7 * 24 + 5);
    assert_eq!(window.hours(), 7 * 24);
    assert!(window.contains(window.from_hour) && !window.contains(window.to_hour));
}

#[test]
fn occurrences_count_each_hour_of_day_in_a_partial_window() {
    let window = Window {
        from_hour: DAY0 + 22,
        to_hour: DAY0 + 24 + 26,
    };
    let each = window.occurrences();
    assert_eq!(each.iter().sum::<u64>(), 28);
    assert_eq!(each[22], 2);
    assert_eq!(each[1], 2);
    assert_eq!(each[2], 1);
}

#[test]
fn bands_average_over_the_days_since_the_agents_first_call() {
    // Two days: 10 then 20 calls at 09:00, 5 calls at 10:00 on the second day only.
    let counts = [
        count("t.read", DAY0 + 9, 10, 100),
        count("t.read", DAY0 + 24 + 9, 20, 300),
        count("t.read", DAY0 + 24 + 10, 5, 50),
        count("t.write", DAY0 + 24 + 9, 1, 7),
    ];
    let window = Window {
        from_hour: DAY0 - 5 * 24,
        to_hour: DAY0 + 48,
    };
    let learned = AgentBaseline::learn("a", window, &counts);
    assert_eq!(learned.first_hour, Some(DAY0 + 9));
    assert_eq!((learned.calls, learned.bytes), (36, 457));
    let read = learned.intent("t.read").unwrap();
    assert_eq!(read.series.len(), 3);
    let nine = read.hours[9];
    assert_eq!(
        (nine.mean_calls, nine.min_calls, nine.max_calls),
        (15.0, 10, 20)
    );
    assert_eq!((nine.mean_bytes, nine.max_bytes), (200.0, 300));
    let ten = read.hours[10];
    assert_eq!((ten.mean_calls, ten.min_calls, ten.max_calls), (2.5, 0, 5));
    assert_eq!(read.hours[3], HourBand::default());
    assert!(learned.intent("t.delete").is_none());
    assert_eq!(learned.mean_calls_by_hour()[9], 15.5);
}

#[test]
fn counts_of_one_hour_add_up_and_others_are_ignored() {
    let mut other = count("t.read", DAY0 + 1, 99, 99);
    other.agent = "b".to_owned();
    let counts = [
        count("t.read", DAY0 + 1, 2, 20),
        count("t.read", DAY0 + 1, 3, 30),
        count("t.read", DAY0 + 48, 1, 1), // outside the window
        other,
    ];
    let window = Window {
        from_hour: DAY0,
        to_hour: DAY0 + 24,
    };
    let learned = AgentBaseline::learn("a", window, &counts);
    let read = learned.intent("t.read").unwrap();
    assert_eq!(read.series, vec![count("t.read", DAY0 + 1, 5, 50)]);
    assert_eq!(learned.intents.len(), 1);
}

#[test]
fn nothing_learned_is_an_empty_baseline() {
    let window = Window::ending(DAY0 * MS_PER_HOUR, 7);
    let learned = AgentBaseline::learn("a", window, &[]);
    assert_eq!((learned.first_hour, learned.calls), (None, 0));
    assert!(learned.intents.is_empty());
}

proptest! {
    /// Whatever the counts: totals are the window's sums, each band's mean times its
    /// days is its hours' sum, and min ≤ mean ≤ max.
    #[test]
    fn learning_keeps_every_call_in_the_window(
        raw in proptest::collection::vec((0u8..3, 0i64..24 * 9, 0u64..50, 0u64..5_000), 0..60),
    ) {
        let intents = ["x.a", "x.b", "x.c"];
        let counts: Vec<HourCount> = raw
            .iter()
            .map(|(i, h, c, b)| count(intents[usize::from(*i)], DAY0 + h, *c, *b))
            .collect();
        let window = Window { from_hour: DAY0 + 24, to_hour: DAY0 + 8 * 24 };
        let learned = AgentBaseline::learn("a", window, &counts);
        let inside: Vec<&HourCount> = counts.iter().filter(|c| window.contains(c.hour)).collect();
        prop_assert_eq!(learned.calls, inside.iter().map(|c| c.calls).sum::<u64>());
        prop_assert_eq!(learned.bytes, inside.iter().map(|c| c.bytes).sum::<u64>());
        for intent in &learned.intents {
            prop_assert_eq!(intent.hours.len(), HOURS_PER_DAY);
            let mut hours: Vec<i64> = intent.series.iter().map(|c| c.hour).collect();
            hours.dedup();
            prop_assert_eq!(hours.len(), intent.series.len());
            for band in &intent.hours {
                prop_assert!(band.min_calls as f64 <= band.mean_calls + 1e-9);
                prop_assert!(band.mean_calls <= band.max_calls as f64 + 1e-9);
            }
        }
    }
}
