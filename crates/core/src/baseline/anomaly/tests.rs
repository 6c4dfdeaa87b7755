use super::*;
use crate::baseline::{HourCount, MS_PER_HOUR, Window};

const DAY0: i64 = 20_000 * 24;

fn thresholds() -> Thresholds {
    Thresholds {
        min_days: 7,
        min_calls: 100,
        rate_factor: 3.0,
        rate_floor: 10,
        volume_factor: 3.0,
        volume_floor: 10_000,
        quiet_hour_calls: 0.0,
    }
}

/// A week of 20 `t.read` calls of 1 kB each every hour from 08:00 to 17:59.
fn week() -> Vec<HourCount> {
    (0..7 * 24)
        .filter(|hour| (8..18).contains(&(hour % 24)))
        .map(|hour| HourCount {
            agent: "a".to_owned(),
            intent: "t.read".to_owned(),
            hour: DAY0 + hour,
            calls: 20,
            bytes: 20_000,
        })
        .collect()
}

fn profile(days: u32) -> Profile {
    let now = (DAY0 + i64::from(days) * 24) * MS_PER_HOUR;
    let window = Window::ending(now, 7);
    Profile::new(AgentBaseline::learn("a", window, &week()), &thresholds())
}

fn live(hour_of_day: i64, calls: u64, bytes: u64) -> Live {
    Live {
        hour: DAY0 + 7 * 24 + hour_of_day,
        calls,
        bytes,
    }
}

#[test]
fn usual_calls_are_not_anomalies() {
    let set = profile(7).judge("t.read", live(9, 25, 30_000), &thresholds());
    assert!(set.is_empty(), "{set:?}");
}

#[test]
fn each_departure_is_flagged() {
    let p = profile(7);
    let t = thresholds();
    assert_eq!(
        p.judge("t.read", live(9, 61, 0), &t),
        AnomalySet::EMPTY.with(Anomaly::Rate)
    );
    assert_eq!(
        p.judge("t.read", live(9, 1, 60_001), &t),
        AnomalySet::EMPTY.with(Anomaly::Volume)
    );
    assert_eq!(
        p.judge("t.delete", live(9, 1, 0), &t),
        AnomalySet::EMPTY.with(Anomaly::NewIntent)
    );
    let night = p.judge("t.read", live(3, 1, 0), &t);
    assert_eq!(night, AnomalySet::EMPTY.with(Anomaly::Hour));
}

#[test]
fn a_young_or_thin_baseline_flags_nothing() {
    // Judged on day 3 the window holds three days: too young.
    let young = profile(3);
    assert!(!young.is_mature());
    assert!(
        young
            .judge("t.delete", live(3, 999, 0), &thresholds())
            .is_empty()
    );
    let thin = Thresholds {
        min_calls: 100_000,
        ..thresholds()
    };
    let window = Window::ending((DAY0 + 7 * 24) * MS_PER_HOUR, 7);
    let p = Profile::new(AgentBaseline::learn("a", window, &week()), &thin);
    assert!(!p.is_mature());
}

#[test]
fn a_set_serialises_in_declaration_order_and_reads_back() {
    let set: AnomalySet = [Anomaly::Hour, Anomaly::NewIntent, Anomaly::Rate]
        .into_iter()
        .collect();
    let text = serde_json::to_string(&set).unwrap();
    assert_eq!(text, r#"["new-intent","rate","hour"]"#);
    assert_eq!(serde_json::from_str::<AnomalySet>(&text).unwrap(), set);
    assert!(serde_json::from_str::<AnomalySet>(r#"["odd"]"#).is_err());
    assert_eq!(serde_json::to_string(&AnomalySet::EMPTY).unwrap(), "[]");
}
