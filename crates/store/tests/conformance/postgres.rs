//! The PostgreSQL backend for the conformance suite, and what only a shared database
//! can show: replicas starting together, a reconnect after the database dropped every
//! connection, data seen by a second store on the same database.
//!
//! Each test gets its own schema in the database named by `GATEHOUSE_TEST_POSTGRES`
//! (`scripts/test` starts a local PostgreSQL and sets it). Without it these tests say
//! they were skipped, unless `GATEHOUSE_REQUIRE_POSTGRES=1` (also set by `scripts/test`)
//! makes a missing database a failure, so CI can never pass them by skipping.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use gatehouse_core::event::EventFilter;
use gatehouse_store::{
    BreakKind, Change, ChangeHandler, PostgresStore, RevocationKind, Store, StoreError,
    WorkflowFilter,
};

use crate::{revocations, sample, workflows};

/// A store in a fresh schema, dropped with it.
pub(crate) struct Fixture {
    store: PostgresStore,
    admin: String,
    schema: String,
}

impl Fixture {
    /// `None` (after saying so) when no test database is configured.
    pub(crate) fn open() -> Option<Self> {
        let admin = admin_url()?;
        let schema = fresh_schema(&admin);
        let store = PostgresStore::open(&in_schema(&admin, &schema)).unwrap();
        Some(Self {
            store,
            admin,
            schema,
        })
    }

    pub(crate) fn store(&self) -> &dyn Store {
        &self.store
    }

    fn url(&self) -> String {
        in_schema(&self.admin, &self.schema)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema));
        }
    }
}

/// The test database's address, or `None` when tests may skip.
fn admin_url() -> Option<String> {
    match std::env::var("GATEHOUSE_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("GATEHOUSE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "GATEHOUSE_REQUIRE_POSTGRES=1 but GATEHOUSE_TEST_POSTGRES names no database"
            );
            eprintln!("skipped: GATEHOUSE_TEST_POSTGRES is not set (scripts/test sets it)");
            None
        }
    }
}

fn fresh_schema(admin: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Random per process, so reruns never meet an old run's leftovers.
    let salt = RandomState::new().build_hasher().finish() % 1_000_000;
    let schema = format!(
        "conformance_{}_{}_{salt}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut client = postgres::Client::connect(admin, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    schema
}

/// `admin` with every connection's search path set to `schema`, and named after it
/// (so a test can find its own store's connections).
fn in_schema(admin: &str, schema: &str) -> String {
    let separator = if admin.contains('?') { '&' } else { '?' };
    format!("{admin}{separator}options=-c%20search_path%3D{schema}&application_name={schema}")
}

#[test]
fn a_second_store_on_the_same_database_sees_everything() {
    let Some(fixture) = Fixture::open() else {
        return;
    };
    let stored = sample::events(0..50);
    fixture.store.append_events(&stored).unwrap();
    assert!(fixture.store.claim_jti("iss", "j", 100, 10).unwrap());
    let workflow = workflows::sample(1);
    fixture.store.put_workflow(&workflow).unwrap();

    let replica = PostgresStore::open(&fixture.url()).unwrap();
    assert_eq!(
        replica.event(stored[7].id).unwrap().as_ref(),
        Some(&stored[7])
    );
    assert_eq!(
        replica.query_events(&EventFilter::default()).unwrap().len(),
        50
    );
    assert!(!replica.claim_jti("iss", "j", 100, 20).unwrap());
    assert_eq!(
        replica.workflow(&workflow.id).unwrap().as_ref(),
        Some(&workflow)
    );
    assert_eq!(
        replica
            .list_workflows(&WorkflowFilter::default())
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn replicas_starting_together_migrate_once_and_all_start() {
    let Some(fixture) = Fixture::open() else {
        return;
    };
    let empty = fresh_schema(&fixture.admin);
    let url = in_schema(&fixture.admin, &empty);
    let opened: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| PostgresStore::open(&url).map(drop)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(opened.iter().all(Result::is_ok), "{opened:?}");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    // Each step applied once: one row per version, up to the newest.
    let row = client
        .query_one("SELECT count(*), max(version) FROM schema_version", &[])
        .unwrap();
    let (rows, newest): (i64, i64) = (row.get(0), row.get(1));
    assert!(newest >= 2, "{newest}");
    assert_eq!(rows, newest);
    client
        .batch_execute(&format!("DROP SCHEMA {empty} CASCADE"))
        .unwrap();
}

#[test]
fn a_database_from_a_newer_gatehouse_is_refused() {
    let Some(fixture) = Fixture::open() else {
        return;
    };
    let mut client = postgres::Client::connect(&fixture.url(), postgres::NoTls).unwrap();
    client
        .execute("INSERT INTO schema_version (version) VALUES (99)", &[])
        .unwrap();
    match PostgresStore::open(&fixture.url()) {
        Err(StoreError::NewerSchema { found: 99, .. }) => {}
        other => panic!("expected a newer-schema refusal, got {other:?}"),
    }
}

#[test]
fn a_store_reconnects_after_the_database_dropped_its_connections() {
    let Some(fixture) = Fixture::open() else {
        return;
    };
    fixture.store.ping().unwrap();
    let mut admin = postgres::Client::connect(&fixture.admin, postgres::NoTls).unwrap();
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1",
            &[&fixture.schema],
        )
        .unwrap()
        .get(0);
    assert!(killed >= 1, "the store's connection was not found");
    // The first use of each dropped connection fails as unavailable, never panics;
    // within a few tries every pooled connection has been replaced.
    let mut answered = false;
    for _ in 0..8 {
        match fixture.store.ping() {
            Ok(()) => answered = true,
            Err(error) => assert!(error.is_unavailable(), "{error}"),
        }
    }
    assert!(answered);
    fixture.store.append_events(&sample::events(0..3)).unwrap();
    assert_eq!(
        fixture
            .store
            .query_events(&EventFilter::default())
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn a_wrong_address_is_unavailable_and_names_no_password() {
    if admin_url().is_none() {
        return;
    }
    let error = PostgresStore::open("postgres://gatehouse:s3cret@127.0.0.1:1/none").unwrap_err();
    assert!(error.is_unavailable());
    let text = error.to_string();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("127.0.0.1:1"), "{text}");
    let error = PostgresStore::open("postgres://[not a url").unwrap_err();
    assert!(error.is_unavailable(), "{error}");
}

/// Collects what a subscription reports.
fn subscribed(store: &PostgresStore) -> std::sync::mpsc::Receiver<Change> {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let handler: ChangeHandler = Box::new(move |change| {
        let _ = tx.lock().unwrap().send(change);
    });
    assert!(store.subscribe(handler).unwrap());
    rx
}

/// The next revocation said in its announcement, past the plain re-read requests that
/// other tests' stores (other schemas of the same database) cause meanwhile.
fn next_revoked(rx: &std::sync::mpsc::Receiver<Change>) -> Change {
    loop {
        match next_change(rx) {
            Change::Revocations => continue,
            change => return change,
        }
    }
}

/// The next report that is not about the feed's own health.
fn next_change(rx: &std::sync::mpsc::Receiver<Change>) -> Change {
    loop {
        match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
            Change::Connected | Change::Lost(_) => continue,
            change => return change,
        }
    }
}

#[test]
fn a_revocation_written_by_one_replica_is_announced_to_another() {
    let Some(fixture) = Fixture::open() else {
        return;
    };
    let listener = PostgresStore::open(&fixture.url()).unwrap();
    let changes = subscribed(&listener);
    assert_eq!(
        changes.recv_timeout(Duration::from_secs(10)).unwrap(),
        Change::Connected
    );
    let revocation = revocations::revocation(RevocationKind::Agent, "spiffe://x/agent/a", 1);
    fixture.store.put_revocation(&revocation).unwrap();
    assert_eq!(
        next_revoked(&changes),
        Change::Revoked {
            kind: RevocationKind::Agent,
            subject: "spiffe://x/agent/a".to_owned(),
            expires_at: revocation.expires_at,
        }
    );
    fixture
        .store
        .delete_revocation(RevocationKind::Agent, "spiffe://x/agent/a")
        .unwrap();
    assert_eq!(next_change(&changes), Change::Revocations);
    // Too long to say in an announcement: stored all the same, announced to be read.
    let long = revocations::revocation(RevocationKind::Token, &"j".repeat(8000), 1);
    fixture.store.put_revocation(&long).unwrap();
    assert_eq!(next_change(&changes), Change::Revocations);
    let now = 0;
    assert!(
        fixture
            .store
            .revocations(now)
            .unwrap()
            .iter()
            .any(|stored| stored.subject == long.subject)
    );
}

#[test]
fn a_revocation_under_another_schema_of_the_database_is_not_taken_for_this_stores() {
    let (Some(fixture), Some(other)) = (Fixture::open(), Fixture::open()) else {
        return;
    };
    // Announcements are per database: a store under another schema hears them too.
    let changes = subscribed(&other.store);
    assert_eq!(
        changes.recv_timeout(Duration::from_secs(10)).unwrap(),
        Change::Connected
    );
    let revocation = revocations::revocation(RevocationKind::Agent, "spiffe://x/agent/a", 1);
    fixture.store.put_revocation(&revocation).unwrap();
    loop {
        match next_change(&changes) {
            Change::Revocations => break,
            change => assert!(!matches!(change, Change::Revoked { .. }), "{change:?}"),
        }
    }
}

#[test]
fn only_the_eight_newest_shared_policy_sets_are_kept() {
    let Some(fixture) = Fixture::open() else {
        return;
    };
    let set = |n: i64| gatehouse_store::PolicySet {
        version: format!("{n:064}"),
        shared_at_ms: n,
        by: "alice".to_owned(),
        files: Vec::new(),
    };
    for n in 0..12 {
        fixture.store.share_policy_set(&set(n)).unwrap();
    }
    let mut client = postgres::Client::connect(&fixture.url(), postgres::NoTls).unwrap();
    let kept: i64 = client
        .query_one("SELECT count(*) FROM policy_sets", &[])
        .unwrap()
        .get(0);
    assert_eq!(kept, 8);
    let newest = fixture.store.newest_policy_set().unwrap().unwrap();
    assert_eq!(newest.set, set(11));
}

#[test]
fn a_shared_policy_set_and_an_approval_change_are_announced_to_another() {
    let Some(fixture) = Fixture::open() else {
        return;
    };
    let listener = PostgresStore::open(&fixture.url()).unwrap();
    let changes = subscribed(&listener);
    assert_eq!(
        changes.recv_timeout(Duration::from_secs(10)).unwrap(),
        Change::Connected
    );
    let set = gatehouse_store::PolicySet {
        version: "ab".repeat(32),
        shared_at_ms: 1,
        by: "alice".to_owned(),
        files: Vec::new(),
    };
    fixture.store.share_policy_set(&set).unwrap();
    assert_eq!(next_change(&changes), Change::Policy);
    let approval = crate::approvals::sample(1);
    fixture.store.put_approval(&approval).unwrap();
    assert_eq!(next_change(&changes), Change::Approvals);
}

#[test]
fn a_lost_listener_reconnects_and_asks_for_a_full_read() {
    let Some(fixture) = Fixture::open() else {
        return;
    };
    let changes = subscribed(&fixture.store);
    assert_eq!(
        changes.recv_timeout(Duration::from_secs(10)).unwrap(),
        Change::Connected
    );
    let mut admin = postgres::Client::connect(&fixture.admin, postgres::NoTls).unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND query ILIKE 'LISTEN%'",
            &[&fixture.schema],
        )
        .unwrap();
    let lost = changes.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(matches!(lost, Change::Lost(_)), "{lost:?}");
    assert_eq!(next_change(&changes), Change::Resync);
    // And it listens again.
    let revocation = revocations::revocation(RevocationKind::Agent, "spiffe://x/agent/b", 1);
    fixture.store.put_revocation(&revocation).unwrap();
    assert!(
        matches!(next_revoked(&changes), Change::Revoked { .. }),
        "a revocation is announced"
    );
}

/// Events in three batches, then `tamper` run on the database directly; what a check says.
fn chain_after(tamper: &str) -> Option<gatehouse_store::ChainCheck> {
    let fixture = Fixture::open()?;
    for range in [0..4, 4..7, 7..10] {
        fixture.store.append_events(&sample::events(range)).unwrap();
    }
    assert!(fixture.store.verify_chain(None).unwrap().is_unbroken());
    let mut client = postgres::Client::connect(&fixture.url(), postgres::NoTls).unwrap();
    client.batch_execute(tamper).unwrap();
    Some(fixture.store.verify_chain(None).unwrap())
}

#[test]
fn an_edited_event_breaks_the_chain_where_it_was_edited() {
    let Some(check) = chain_after(
        "UPDATE events SET line = replace(line, '\"status\":', '\"status\": ') \
         WHERE block = 2 AND position = 1",
    ) else {
        return;
    };
    let found = check.first_break.unwrap();
    assert_eq!(
        (found.block, found.position, found.kind),
        (2, 1, BreakKind::Mismatch)
    );
}

#[test]
fn a_deleted_event_and_a_deleted_batch_are_found() {
    let Some(check) = chain_after("DELETE FROM events WHERE block = 2 AND position = 0") else {
        return;
    };
    let found = check.first_break.unwrap();
    assert_eq!((found.block, found.position), (2, 0));
    let Some(check) = chain_after("DELETE FROM events WHERE block = 2") else {
        return;
    };
    assert_eq!(check.first_break.unwrap().kind, BreakKind::Gap);
}

#[test]
fn events_removed_from_the_end_are_found_against_the_head() {
    let Some(check) = chain_after("DELETE FROM events WHERE block = 3 AND position = 2") else {
        return;
    };
    assert_eq!(check.first_break.unwrap().kind, BreakKind::Missing);
    let Some(check) = chain_after("DELETE FROM events") else {
        return;
    };
    assert_eq!(check.first_break.unwrap().kind, BreakKind::Missing);
}
