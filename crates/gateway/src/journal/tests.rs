use std::collections::HashSet;

use gatehouse_core::clock::UnixTime;
use gatehouse_core::event::EventKind;
use gatehouse_core::ids::{DecisionId, IdGenerator};

use super::*;

fn draft(id: DecisionId) -> Event {
    Event {
        agent: Some("spiffe://acme/agent/triage-bot".into()),
        workflow: Some("wf-1".into()),
        outcome: Outcome::Allow,
        method: "GET".to_owned(),
        path: "/tools/t/x".to_owned(),
        ..Event::blank(id, 1, EventKind::Tool)
    }
}

fn files(dir: &Path) -> usize {
    segments(dir).unwrap().len()
}

#[test]
fn calls_journaled_without_a_stored_event_are_recovered_as_stopped_mid_call() {
    let dir = tempfile::tempdir().unwrap();
    let ids = IdGenerator::default();
    let all: Vec<DecisionId> = (0..5).map(|_| ids.next(UnixTime::from_secs(1))).collect();
    {
        let (journal, recovered) = Journal::open(dir.path(), |_| Ok(false)).unwrap();
        assert!(recovered.events.is_empty());
        let tickets: Vec<Ticket> = all
            .iter()
            .map(|id| journal.append(&draft(*id)).unwrap())
            .collect();
        // A kill: nothing is released, nothing retired.
        std::mem::forget(tickets);
        std::mem::forget(journal);
    }
    // A torn last line, as a kill within a write would leave.
    let (_, path) = segments(dir.path()).unwrap().pop().unwrap();
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"{\"id\":\"01J").unwrap();
    let stored: HashSet<DecisionId> = all.iter().take(2).copied().collect();
    let (_journal, recovered) =
        Journal::open(dir.path(), |event| Ok(stored.contains(&event.id))).unwrap();
    let ids: Vec<DecisionId> = recovered.events.iter().map(|(event, _)| event.id).collect();
    assert_eq!(ids, all[2..].to_vec());
    for (event, _) in &recovered.events {
        assert_eq!(event.outcome, Outcome::Error);
        assert_eq!(event.workflow.as_deref(), Some("wf-1"));
        assert!(
            event
                .reason
                .as_deref()
                .unwrap()
                .contains("stopped mid-call")
        );
    }
    // The old segment stays until the recovered events are written (their tickets go).
    assert_eq!(files(dir.path()), 2);
    drop(recovered);
    assert_eq!(files(dir.path()), 1);
}

#[test]
fn a_rotated_segment_goes_once_its_last_call_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let ids = IdGenerator::default();
    let (journal, _) = Journal::open(dir.path(), |_| Ok(false)).unwrap();
    let first = journal
        .append(&draft(ids.next(UnixTime::from_secs(1))))
        .unwrap();
    let second = journal
        .append(&draft(ids.next(UnixTime::from_secs(1))))
        .unwrap();
    journal.rotate_large();
    assert_eq!(
        files(dir.path()),
        1,
        "a small segment is not rotated by the frequent tick"
    );
    journal.rotate(0);
    assert_eq!(files(dir.path()), 2);
    drop(first);
    assert_eq!(files(dir.path()), 2);
    drop(second);
    assert_eq!(files(dir.path()), 1);
    journal.rotate(0);
    assert_eq!(files(dir.path()), 1, "an empty segment is not rotated");
}
