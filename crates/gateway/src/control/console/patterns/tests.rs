use super::*;

const START_MS: i64 = 1_764_000_000_000 - 1_764_000_000_000 % HOUR_MS;

fn count(intent: &str, bucket: u32, calls: u64) -> CallCount {
    CallCount {
        intent: intent.to_owned(),
        bucket,
        calls,
    }
}

#[test]
fn the_window_ends_with_the_bucket_holding_now() {
    let now = START_MS + 10 * 60_000 + 7;
    let day = window("a", now, 24 * HOUR_MS).unwrap();
    assert_eq!(day.since_ms(), START_MS + HOUR_MS - 24 * HOUR_MS);
    assert_eq!((day.bucket_ms(), day.buckets()), (HOUR_MS, 24));
    let short = window("a", now, 3 * HOUR_MS).unwrap();
    assert_eq!((short.bucket_ms(), short.buckets()), (5 * 60_000, 36));
    assert_eq!(short.since_ms(), START_MS + 15 * 60_000 - 3 * HOUR_MS);
    let month = window("a", now, 31 * 24 * HOUR_MS).unwrap();
    assert_eq!(month.buckets(), 744);
}

#[test]
fn counts_become_hourly_rates_per_intent_with_bands_by_hour_of_day() {
    let rates = RateQuery::new("bot", START_MS, START_MS + HOUR_MS, 15 * 60_000).unwrap();
    let counts = [
        count("ticket.read", 0, 3),
        count("ticket.read", 3, 1),
        count("a.b", 1, 2),
    ];
    let mut hours: HourBands = [None; 24];
    let hour = usize::try_from(START_MS.div_euclid(HOUR_MS).rem_euclid(24)).unwrap();
    hours[hour] = Some(Band {
        low: 2.0,
        high: 8.0,
    });
    let bands = BTreeMap::from([
        ("ticket.read".to_owned(), hours),
        ("quiet.intent".to_owned(), [None; 24]),
    ]);
    let drawn = chart_of("bot", &rates, &counts, &bands);
    let names: Vec<&str> = drawn.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["a.b", "quiet.intent", "ticket.read"]);
    assert_eq!(drawn.series[0].values, vec![0.0, 8.0, 0.0, 0.0]);
    assert_eq!(drawn.series[1].values, vec![0.0; 4]);
    assert_eq!(drawn.series[2].values, vec![12.0, 0.0, 0.0, 4.0]);
    assert!(drawn.series[0].band.is_empty());
    assert_eq!(drawn.series[1].band, vec![None; 4]);
    let expected = Some(Band {
        low: 2.0,
        high: 8.0,
    });
    assert_eq!(drawn.series[2].band, vec![expected; 4]);
    assert_eq!(drawn.title, "Calls of bot");
    assert!(drawn.description.contains("buckets of 15 minutes"));
}

#[test]
fn a_link_encodes_the_agent_as_one_query_value() {
    assert_eq!(
        link("spiffe://acme/agent/a&b=c#d", "7d"),
        "/console/patterns?agent=spiffe%3A%2F%2Facme%2Fagent%2Fa%26b%3Dc%23d&window=7d"
    );
    let asked = Asked::parse(link("x y+%", "24h").split_once('?').map(|(_, q)| q)).unwrap();
    assert_eq!(asked.agent.as_deref(), Some("x y+%"));
}

#[test]
fn the_numbers_table_shows_each_value_and_its_expected_range() {
    let rates = RateQuery::new("bot", START_MS, START_MS + 2 * HOUR_MS, HOUR_MS).unwrap();
    let mut hours: HourBands = [None; 24];
    let hour = usize::try_from(START_MS.div_euclid(HOUR_MS).rem_euclid(24)).unwrap();
    hours[hour] = Some(Band {
        low: 0.5,
        high: 3.0,
    });
    let bands = BTreeMap::from([("<i>".to_owned(), hours)]);
    let drawn = chart_of("bot", &rates, &[count("<i>", 0, 2)], &bands);
    let text = numbers(&drawn).into_string();
    assert!(text.contains("<th>&lt;i&gt;</th>"), "{text}");
    assert!(
        text.contains("2 <span class=\"muted\">(expected 0.5–3)</span>"),
        "{text}"
    );
    assert!(text.contains("<td>0</td>"), "{text}");
}

#[test]
fn a_learned_baseline_becomes_bands_of_the_least_and_most_calls_per_hour_of_day() {
    use gatehouse_core::baseline::{HourCount, hour_of};
    let now_ms = START_MS + 30 * 60_000;
    let window = Window::ending(now_ms, 3);
    let hour = |day: i64| hour_of(START_MS) - 24 * day - 1;
    let counts: Vec<HourCount> = [(0, 2), (1, 5), (2, 3)]
        .into_iter()
        .map(|(day, calls)| HourCount {
            agent: "bot".to_owned(),
            intent: "ticket.read".to_owned(),
            hour: hour(day),
            calls,
            bytes: 0,
        })
        .collect();
    let learned = AgentBaseline::learn("bot", window, &counts);
    let bands = bands_of(&learned);
    let read = bands.get("ticket.read").unwrap();
    let day_hour = usize::try_from(hour(0).rem_euclid(24)).unwrap();
    assert_eq!(
        read[day_hour],
        Some(Band {
            low: 2.0,
            high: 5.0
        })
    );
    // Another hour of day, never called: expected none.
    let other = (day_hour + 1) % 24;
    assert_eq!(read[other].map(|band| band.high), Some(0.0));
    // Nothing learned: no bands, so the page says there is no baseline.
    assert!(bands_of(&AgentBaseline::learn("bot", window, &[])).is_empty());
}
