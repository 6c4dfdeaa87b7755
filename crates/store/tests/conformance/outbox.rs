//! The outbox: events read back in store order after a position, backlog counts, and
//! sinks' cursors.

use gatehouse_core::event::Event;
use gatehouse_store::{Position, Store};

use crate::sample;

/// Every event after `after`, read in pages of `page`, as ids with positions.
fn read_all(store: &dyn Store, after: Option<Position>, page: u32) -> Vec<(Position, String)> {
    let mut found = Vec::new();
    let mut cursor = after;
    loop {
        let lines = store.events_after(cursor, page).unwrap();
        assert!(lines.len() <= page as usize);
        let Some(last) = lines.last() else {
            return found;
        };
        cursor = Some(last.position);
        for stored in lines {
            let event: Event = serde_json::from_str(&stored.line).unwrap();
            found.push((stored.position, event.id.to_string()));
        }
    }
}

pub(crate) fn events_read_back_in_store_order_in_pages(store: &dyn Store) {
    // Three batches; the second's events are older than the first's (late events), so
    // store order is not id order.
    let batches = [
        sample::events(10..15),
        sample::events(0..3),
        sample::events(20..24),
    ];
    for batch in &batches {
        store.append_events(batch).unwrap();
    }
    let expected: Vec<String> = batches
        .iter()
        .flat_map(|batch| batch.iter().map(|event| event.id.to_string()))
        .collect();
    for page in [1, 2, 5, 100] {
        let read = read_all(store, None, page);
        let ids: Vec<String> = read.iter().map(|(_, id)| id.clone()).collect();
        assert_eq!(ids, expected, "pages of {page}");
        let positions: Vec<Position> = read.iter().map(|(at, _)| *at).collect();
        assert!(positions.windows(2).all(|pair| pair[0] < pair[1]));
    }
    // Reading after any position gives exactly the rest.
    let all = read_all(store, None, 100);
    for (n, (position, _)) in all.iter().enumerate() {
        let rest = read_all(store, Some(*position), 3);
        assert_eq!(rest, all[n + 1..].to_vec(), "after {position}");
    }
}

pub(crate) fn the_stored_line_is_the_event_exactly(store: &dyn Store) {
    let event = sample::event(7);
    store.append_events(std::slice::from_ref(&event)).unwrap();
    let lines = store.events_after(None, 10).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].line, serde_json::to_string(&event).unwrap());
}

pub(crate) fn counts_and_head_follow_appends(store: &dyn Store) {
    assert_eq!(store.head_position().unwrap(), None);
    assert_eq!(store.count_after(None).unwrap(), 0);
    store.append_events(&sample::events(0..4)).unwrap();
    store.append_events(&sample::events(4..7)).unwrap();
    let all = read_all(store, None, 100);
    assert_eq!(store.head_position().unwrap(), Some(all[6].0));
    assert_eq!(store.count_after(None).unwrap(), 7);
    for (n, (position, _)) in all.iter().enumerate() {
        assert_eq!(
            store.count_after(Some(*position)).unwrap(),
            (6 - n) as u64,
            "after {position}"
        );
    }
}

pub(crate) fn a_sink_cursor_reads_back_and_never_moves_back(store: &dyn Store) {
    assert_eq!(store.sink_cursor("webhook").unwrap(), None);
    let at = |block, index| Position { block, index };
    store.put_sink_cursor("webhook", at(3, 2)).unwrap();
    store.put_sink_cursor("file", at(1, 0)).unwrap();
    assert_eq!(store.sink_cursor("webhook").unwrap(), Some(at(3, 2)));
    store.put_sink_cursor("webhook", at(3, 1)).unwrap();
    store.put_sink_cursor("webhook", at(2, 9)).unwrap();
    assert_eq!(store.sink_cursor("webhook").unwrap(), Some(at(3, 2)));
    store.put_sink_cursor("webhook", at(4, 0)).unwrap();
    assert_eq!(store.sink_cursor("webhook").unwrap(), Some(at(4, 0)));
    assert_eq!(store.sink_cursor("file").unwrap(), Some(at(1, 0)));
}

pub(crate) fn reading_after_deleted_events_continues_with_the_rest(store: &dyn Store) {
    store.append_events(&sample::events(0..3)).unwrap();
    let first = read_all(store, None, 100);
    store.append_events(&sample::events(100..102)).unwrap();
    // Retention removes the first batch (older than event 100).
    let cutoff = sample::event(100).time_ms;
    while store.delete_events_before(cutoff).unwrap() > 0 {}
    let rest = read_all(store, Some(first[0].0), 100);
    let ids: Vec<String> = rest.into_iter().map(|(_, id)| id).collect();
    let expected: Vec<String> = sample::events(100..102)
        .iter()
        .map(|event| event.id.to_string())
        .collect();
    assert_eq!(ids, expected);
}
