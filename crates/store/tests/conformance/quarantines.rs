//! Quarantines: what every backend keeps, and when it forgets them.

use gatehouse_store::{Quarantine, QuarantineKind, Store};

pub(crate) fn quarantine(id: &str, kind: QuarantineKind, at_ms: i64, until_ms: i64) -> Quarantine {
    Quarantine {
        id: id.to_owned(),
        kind,
        subject: format!("{kind}-subject ünï \"quoted\""),
        reason: "incident 42".to_owned(),
        by: "alice".to_owned(),
        at_ms,
        until_ms,
    }
}

pub(crate) fn quarantines_read_back_every_field_newest_first(store: &dyn Store) {
    let stored: Vec<Quarantine> = QuarantineKind::ALL
        .into_iter()
        .enumerate()
        .map(|(n, kind)| quarantine(&format!("q{n}"), kind, 10 + n as i64, 1_000))
        .collect();
    for quarantine in &stored {
        store.put_quarantine(quarantine).unwrap();
    }
    let mut newest_first = stored.clone();
    newest_first.reverse();
    assert_eq!(store.quarantines(500).unwrap(), newest_first);
}

pub(crate) fn ended_quarantines_are_left_out_and_deleted(store: &dyn Store) {
    store
        .put_quarantine(&quarantine("short", QuarantineKind::Tool, 1, 100))
        .unwrap();
    store
        .put_quarantine(&quarantine("long", QuarantineKind::Agent, 2, 200))
        .unwrap();
    assert_eq!(store.quarantines(99).unwrap().len(), 2);
    let live = store.quarantines(100).unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, "long");
    // Deleted, not only hidden: nothing is left to lift.
    assert!(!store.delete_quarantine("short").unwrap());
}

pub(crate) fn lifting_a_quarantine_says_whether_it_was_there(store: &dyn Store) {
    store
        .put_quarantine(&quarantine("q", QuarantineKind::Segment, 1, 100))
        .unwrap();
    assert!(store.delete_quarantine("q").unwrap());
    assert!(!store.delete_quarantine("q").unwrap());
    assert!(store.quarantines(0).unwrap().is_empty());
}
