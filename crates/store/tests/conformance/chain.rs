//! The events' hash chain: what every backend must answer (`verify_chain` over appended
//! batches), and, for SQLite, that editing the file behind the store's back — editing,
//! deleting or reordering an event, or removing a whole block — is detected and named.

use std::path::Path;

use gatehouse_core::event::{Event, EventLine};
use gatehouse_store::{BreakKind, ChainCheck, SqliteStore, Store};
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use crate::sample;

/// Three batches of five events, numbered 0..15, stored as blocks 1, 2 and 3.
fn three_batches(store: &dyn Store) -> Vec<Event> {
    let events = sample::events(0..15);
    for batch in events.chunks(5) {
        store.append_events(batch).unwrap();
    }
    events
}

/// The head a chain over `events` (in store order) must have, computed here from the
/// definition: SHA-256 of the previous link and the JSON line, from 32 zero bytes.
fn head_of(events: &[Event]) -> String {
    let mut link = [0_u8; 32];
    for event in events {
        let mut hasher = Sha256::new();
        hasher.update(link);
        hasher.update(EventLine::new(event).json.as_bytes());
        link = hasher.finalize().into();
    }
    link.iter().map(|byte| format!("{byte:02x}")).collect()
}

pub(crate) fn an_empty_store_has_an_unbroken_empty_chain(store: &dyn Store) {
    let check = store.verify_chain(None).unwrap();
    assert!(check.is_unbroken(), "{check:?}");
    assert_eq!((check.blocks, check.events, check.head), (0, 0, None));
}

pub(crate) fn an_unbroken_chain_verifies_to_the_head_of_its_lines(store: &dyn Store) {
    let events = three_batches(store);
    let check = store.verify_chain(None).unwrap();
    assert!(check.is_unbroken(), "{check:?}");
    assert_eq!((check.blocks, check.events), (3, 15));
    assert_eq!(check.head, Some(head_of(&events)));
}

/// Retention deletes the oldest blocks, and the rest of the chain still verifies from the
/// anchor they leave: only an earlier link than the first kept block's can be trusted.
pub(crate) fn retention_keeps_the_rest_of_the_chain_provable(store: &dyn Store) {
    let events = three_batches(store);
    // Blocks 1 and 2 end at events 4 and 9; event 10 opens block 3.
    let deleted = store.delete_events_before(events[10].time_ms).unwrap();
    assert_eq!(deleted, 10);
    let check = store.verify_chain(None).unwrap();
    assert!(check.is_unbroken(), "{check:?}");
    assert_eq!((check.blocks, check.events), (1, 5));
    assert_eq!(check.head, Some(head_of(&events)));
    assert_eq!(store.delete_events_before(events[10].time_ms).unwrap(), 0);
}

pub(crate) fn verifying_since_starts_at_the_first_block_reaching_it(store: &dyn Store) {
    let events = three_batches(store);
    let since = events[7].time_ms;
    let check = store.verify_chain(Some(since)).unwrap();
    assert!(check.is_unbroken(), "{check:?}");
    assert_eq!((check.blocks, check.events), (2, 10));
    assert_eq!(check.head, Some(head_of(&events)));
    let later = store.verify_chain(Some(events[14].time_ms + 1)).unwrap();
    assert_eq!((later.blocks, later.events, later.from_block), (0, 0, None));
}

pub(crate) fn the_chain_continues_across_batches_of_late_events(store: &dyn Store) {
    // A slow call's event lands in a later block than events with greater ids: the
    // chain follows store order, not id order.
    let events = sample::events(0..6);
    store.append_events(&events[3..]).unwrap();
    store.append_events(&events[..3]).unwrap();
    let check = store.verify_chain(None).unwrap();
    assert!(check.is_unbroken(), "{check:?}");
    let in_store_order: Vec<Event> = events[3..].iter().chain(&events[..3]).cloned().collect();
    assert_eq!(check.head, Some(head_of(&in_store_order)));
}

/// Three batches in a file store, the file edited by `edit` through a connection of
/// its own (as an intruder would), then checked by the store.
fn tampered(edit: impl FnOnce(&Connection, &[Event])) -> (ChainCheck, Vec<Event>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    let store = SqliteStore::open(&path).unwrap();
    let events = three_batches(&store);
    assert!(store.verify_chain(None).unwrap().is_unbroken());
    edit(&raw(&path), &events);
    (store.verify_chain(None).unwrap(), events)
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

/// Rewrites block `block`'s lines with `change`.
fn rewrite_lines(conn: &Connection, block: i64, change: impl FnOnce(&mut Vec<String>)) {
    let text: String = conn
        .query_row(
            "SELECT lines FROM event_lines WHERE block = ?1",
            [block],
            |row| row.get(0),
        )
        .unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    change(&mut lines);
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    conn.execute(
        "UPDATE event_lines SET lines = ?2 WHERE block = ?1",
        params![block, text],
    )
    .unwrap();
}

fn assert_break(
    check: &ChainCheck,
    block: i64,
    position: u64,
    event: Option<&Event>,
    kind: BreakKind,
) {
    let found = check.first_break.as_ref().expect("a break");
    assert_eq!(
        (found.block, found.position, found.kind),
        (block, position, kind),
        "{check:?}"
    );
    assert_eq!(
        found.event,
        event.map(|event| event.id.to_string()),
        "{check:?}"
    );
}

#[test]
fn an_edited_event_is_named() {
    let (check, events) = tampered(|conn, _| {
        let changed = conn
            .execute(
                "UPDATE event_lines SET lines = replace(lines, '\"bytes_in\":6,', \
                 '\"bytes_in\":600,') WHERE block = 2",
                [],
            )
            .unwrap();
        assert_eq!(changed, 1);
    });
    assert_break(&check, 2, 1, Some(&events[6]), BreakKind::Mismatch);
    assert_eq!(check.events, 6, "every event before the edit still links");
}

#[test]
fn a_deleted_event_is_named_by_the_one_after_it() {
    let (check, events) = tampered(|conn, events| {
        rewrite_lines(conn, 2, |lines| drop(lines.remove(2)));
        conn.execute(
            "DELETE FROM event_ids WHERE id = ?1",
            [events[7].id.to_string()],
        )
        .unwrap();
    });
    assert_break(&check, 2, 2, Some(&events[8]), BreakKind::Mismatch);
}

#[test]
fn a_deleted_last_event_of_a_block_leaves_a_link_without_its_line() {
    let (check, _) = tampered(|conn, _| rewrite_lines(conn, 2, |lines| drop(lines.pop())));
    assert_break(&check, 2, 4, None, BreakKind::Missing);
}

#[test]
fn an_added_event_is_named() {
    let (check, events) = tampered(|conn, events| {
        let line = EventLine::new(&events[9]).json;
        rewrite_lines(conn, 2, |lines| lines.push(line));
    });
    assert_break(&check, 2, 5, Some(&events[9]), BreakKind::Extra);
}

#[test]
fn reordered_events_are_named_at_the_first_moved_one() {
    let (check, events) = tampered(|conn, _| rewrite_lines(conn, 2, |lines| lines.swap(1, 3)));
    assert_break(&check, 2, 1, Some(&events[8]), BreakKind::Mismatch);
}

#[test]
fn swapped_blocks_are_detected() {
    let (check, events) = tampered(|conn, _| {
        conn.execute_batch(
            "UPDATE event_lines SET block = -1 WHERE block = 1;
             UPDATE event_lines SET block = 1 WHERE block = 2;
             UPDATE event_lines SET block = 2 WHERE block = -1;",
        )
        .unwrap();
    });
    assert_break(&check, 1, 0, Some(&events[5]), BreakKind::Mismatch);
}

#[test]
fn a_removed_block_is_a_gap() {
    let (check, events) = tampered(|conn, _| {
        conn.execute_batch(
            "DELETE FROM event_lines WHERE block = 2;
             DELETE FROM event_blocks WHERE block = 2;
             DELETE FROM event_ids WHERE block = 2;
             DELETE FROM event_keys WHERE block = 2;",
        )
        .unwrap();
    });
    assert_break(&check, 3, 0, Some(&events[10]), BreakKind::Gap);
}

#[test]
fn a_removed_first_block_is_a_gap() {
    let (check, events) = tampered(|conn, _| {
        conn.execute("DELETE FROM event_lines WHERE block = 1", [])
            .unwrap();
    });
    assert_break(&check, 2, 0, Some(&events[5]), BreakKind::Gap);
}

#[test]
fn a_forged_link_is_detected() {
    let (check, events) = tampered(|conn, _| {
        conn.execute(
            "UPDATE event_lines SET chain = zeroblob(160) WHERE block = 3",
            [],
        )
        .unwrap();
    });
    assert_break(&check, 3, 0, Some(&events[10]), BreakKind::Mismatch);
}

#[test]
fn a_check_since_a_later_block_skips_an_earlier_break() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    let store = SqliteStore::open(&path).unwrap();
    let events = three_batches(&store);
    rewrite_lines(&raw(&path), 1, |lines| lines.swap(0, 1));
    assert!(!store.verify_chain(None).unwrap().is_unbroken());
    let since = store.verify_chain(Some(events[5].time_ms)).unwrap();
    assert!(since.is_unbroken(), "{since:?}");
    assert_eq!((since.from_block, since.events), (Some(2), 10));
}
