//! Conformance of revocation storage: one per kind and subject, replaced on re-adding,
//! deleted on demand, and token revocations forgotten once their token has expired.

use gatehouse_store::{Revocation, RevocationKind, Store};

/// Unix seconds at which the tests read revocations.
const NOW: i64 = 1_700_000_000;

pub(crate) fn revocation(kind: RevocationKind, subject: &str, at_ms: i64) -> Revocation {
    Revocation {
        kind,
        subject: subject.to_owned(),
        at_ms,
        by: "alice".to_owned(),
        reason: "incident 42".to_owned(),
        expires_at: (kind == RevocationKind::Token).then_some(NOW + 600),
    }
}

fn subjects(revocations: &[Revocation]) -> Vec<(RevocationKind, &str)> {
    revocations
        .iter()
        .map(|r| (r.kind, r.subject.as_str()))
        .collect()
}

pub(crate) fn revocations_read_back_every_field(store: &dyn Store) {
    let odd = Revocation {
        by: "playbook \"compromised agent\"".to_owned(),
        reason: "line one\nline 'two' ü".to_owned(),
        ..revocation(RevocationKind::Agent, "spiffe://acme/agent/x", 3)
    };
    let written = vec![
        odd,
        revocation(RevocationKind::Workflow, "wf-1", 2),
        revocation(RevocationKind::Token, "jti-1", 1),
        Revocation {
            expires_at: None,
            ..revocation(RevocationKind::Token, "jti-forever", 0)
        },
    ];
    for revocation in &written {
        store.put_revocation(revocation).unwrap();
    }
    assert_eq!(store.revocations(NOW).unwrap(), written, "newest first");
}

pub(crate) fn the_same_subject_under_each_kind_is_three_revocations(store: &dyn Store) {
    for kind in RevocationKind::ALL {
        store.put_revocation(&revocation(kind, "x", 1)).unwrap();
    }
    let stored = store.revocations(NOW).unwrap();
    assert_eq!(stored.len(), 3);
    assert!(
        store
            .delete_revocation(RevocationKind::Workflow, "x")
            .unwrap()
    );
    let left = store.revocations(NOW).unwrap();
    assert_eq!(
        subjects(&left),
        [(RevocationKind::Agent, "x"), (RevocationKind::Token, "x")],
        "same time: ordered by kind name"
    );
}

pub(crate) fn re_adding_a_revocation_replaces_it(store: &dyn Store) {
    store
        .put_revocation(&revocation(RevocationKind::Token, "jti-1", 1))
        .unwrap();
    let again = Revocation {
        at_ms: 9,
        by: "bob".to_owned(),
        reason: "again".to_owned(),
        expires_at: Some(NOW + 5),
        ..revocation(RevocationKind::Token, "jti-1", 0)
    };
    store.put_revocation(&again).unwrap();
    assert_eq!(store.revocations(NOW).unwrap(), [again]);
}

pub(crate) fn deleting_a_revocation_says_whether_it_was_there(store: &dyn Store) {
    let agent = revocation(RevocationKind::Agent, "bot", 1);
    let workflow = revocation(RevocationKind::Workflow, "wf", 2);
    store.put_revocation(&agent).unwrap();
    store.put_revocation(&workflow).unwrap();
    assert!(
        !store
            .delete_revocation(RevocationKind::Token, "bot")
            .unwrap()
    );
    assert!(
        store
            .delete_revocation(RevocationKind::Agent, "bot")
            .unwrap()
    );
    assert!(
        !store
            .delete_revocation(RevocationKind::Agent, "bot")
            .unwrap()
    );
    assert_eq!(store.revocations(NOW).unwrap(), [workflow]);
    store.put_revocation(&agent).unwrap();
    assert_eq!(
        store.revocations(NOW).unwrap().len(),
        2,
        "re-revoking works"
    );
}

pub(crate) fn spent_token_revocations_are_dropped(store: &dyn Store) {
    let expiring = |subject: &str, expires_at| Revocation {
        expires_at,
        ..revocation(RevocationKind::Token, subject, 1)
    };
    store
        .put_revocation(&expiring("past", Some(NOW - 1)))
        .unwrap();
    store.put_revocation(&expiring("now", Some(NOW))).unwrap();
    store
        .put_revocation(&expiring("later", Some(NOW + 1)))
        .unwrap();
    store.put_revocation(&expiring("never", None)).unwrap();
    let live = |now| {
        let mut found: Vec<String> = store
            .revocations(now)
            .unwrap()
            .into_iter()
            .map(|r| r.subject)
            .collect();
        found.sort();
        found
    };
    // Kept through the last second its token could be accepted, dropped after it.
    assert_eq!(live(NOW), ["later", "never", "now"]);
    assert_eq!(live(NOW + 1), ["later", "never"]);
    // Dropped means deleted, not hidden: reading as of earlier brings nothing back.
    assert_eq!(live(NOW - 100), ["later", "never"]);
    assert!(
        !store
            .delete_revocation(RevocationKind::Token, "now")
            .unwrap()
    );
    assert_eq!(live(i64::MAX), ["never"]);
}

pub(crate) fn workflow_and_agent_revocations_never_expire(store: &dyn Store) {
    let written: Vec<Revocation> = [RevocationKind::Workflow, RevocationKind::Agent]
        .into_iter()
        .map(|kind| Revocation {
            expires_at: Some(NOW - 1_000),
            ..revocation(kind, "subject", 1)
        })
        .collect();
    for revocation in &written {
        store.put_revocation(revocation).unwrap();
    }
    assert_eq!(store.revocations(NOW).unwrap().len(), 2);
    let far = store.revocations(i64::MAX).unwrap();
    assert_eq!(
        subjects(&far),
        [
            (RevocationKind::Agent, "subject"),
            (RevocationKind::Workflow, "subject")
        ]
    );
}

pub(crate) fn no_revocations_is_an_empty_list(store: &dyn Store) {
    assert!(store.revocations(NOW).unwrap().is_empty());
}
