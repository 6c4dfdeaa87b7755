//! Baseline hour counts: flushes add up per agent, intent and hour; reads are bounded by
//! the window and ordered; the learned baseline is the same on every backend.

use gatehouse_core::baseline::{HourCount, Window};
use gatehouse_store::Store;

const DAY0: i64 = 20_000 * 24;

fn count(agent: &str, intent: &str, hour: i64, calls: u64, bytes: u64) -> HourCount {
    HourCount {
        agent: agent.to_owned(),
        intent: intent.to_owned(),
        hour: DAY0 + hour,
        calls,
        bytes,
    }
}

fn window(from: i64, to: i64) -> Window {
    Window {
        from_hour: DAY0 + from,
        to_hour: DAY0 + to,
    }
}

pub(crate) fn hour_counts_add_up_and_read_back_in_order(store: &dyn Store) {
    let agent = "spiffe://acme/agent/ünï \"q\"";
    store
        .add_hour_counts(&[
            count(agent, "t.read", 9, 3, 300),
            count(agent, "t.write", 8, 1, 10),
            count("other", "t.read", 9, 7, 70),
        ])
        .unwrap();
    store
        .add_hour_counts(&[
            count(agent, "t.read", 9, 2, 200),
            count(agent, "t.read", 1, 1, 1),
        ])
        .unwrap();
    assert_eq!(
        store.hour_counts(Some(agent), window(0, 24)).unwrap(),
        vec![
            count(agent, "t.read", 1, 1, 1),
            count(agent, "t.read", 9, 5, 500),
            count(agent, "t.write", 8, 1, 10),
        ]
    );
    // Every agent: ordered by agent first (byte order: `other` < `spiffe…`).
    assert_eq!(
        store.hour_counts(None, window(9, 10)).unwrap(),
        vec![
            count("other", "t.read", 9, 7, 70),
            count(agent, "t.read", 9, 5, 500)
        ]
    );
}

pub(crate) fn the_window_includes_its_start_and_excludes_its_end(store: &dyn Store) {
    store
        .add_hour_counts(&[
            count("a", "t", -1, 1, 0),
            count("a", "t", 0, 2, 0),
            count("a", "t", 23, 3, 0),
            count("a", "t", 24, 4, 0),
        ])
        .unwrap();
    let calls: Vec<u64> = store
        .hour_counts(Some("a"), window(0, 24))
        .unwrap()
        .iter()
        .map(|c| c.calls)
        .collect();
    assert_eq!(calls, vec![2, 3]);
    assert!(
        store
            .hour_counts(Some("nobody"), window(0, 24))
            .unwrap()
            .is_empty()
    );
    assert!(store.add_hour_counts(&[]).is_ok());
}

pub(crate) fn counts_beyond_i64_read_back_as_i64_max(store: &dyn Store) {
    store
        .add_hour_counts(&[count("a", "t", 0, u64::MAX, 5)])
        .unwrap();
    store
        .add_hour_counts(&[count("a", "t", 0, 10, i64::MAX as u64)])
        .unwrap();
    let read = store.hour_counts(Some("a"), window(0, 1)).unwrap();
    assert_eq!(
        read,
        vec![count("a", "t", 0, i64::MAX as u64, i64::MAX as u64)]
    );
}

pub(crate) fn concurrent_flushes_lose_no_call(store: &dyn Store) {
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..25 {
                    store.add_hour_counts(&[count("a", "t", 5, 1, 10)]).unwrap();
                }
            });
        }
    });
    let read = store.hour_counts(Some("a"), window(0, 24)).unwrap();
    assert_eq!(read, vec![count("a", "t", 5, 100, 1_000)]);
}

pub(crate) fn the_learned_baseline_reads_the_stored_hours(store: &dyn Store) {
    let week: Vec<HourCount> = (0..7 * 24)
        .filter(|hour| (8..18).contains(&(hour % 24)))
        .map(|hour| count("a", "t.read", hour, 20, 2_000))
        .collect();
    store.add_hour_counts(&week).unwrap();
    let learned = store.baseline("a", window(0, 7 * 24)).unwrap();
    assert_eq!(learned.first_hour, Some(DAY0 + 8));
    assert_eq!(learned.calls, 7 * 10 * 20);
    let read = learned.intent("t.read").unwrap();
    assert_eq!(read.series.len(), 70);
    assert_eq!(read.hours[9].max_calls, 20);
    assert_eq!(read.hours[9].mean_calls, 20.0);
    assert_eq!(read.hours[3].max_calls, 0);
}
