//! SQLite backends for the conformance suite, and what only a file-backed store can
//! show: data surviving a reopen, refusing a newer schema, and a corrupt file.

use std::path::{Path, PathBuf};

use gatehouse_core::event::EventFilter;
use gatehouse_store::{
    ApprovalFilter, QuarantineKind, RevocationKind, SqliteStore, Store, StoreError, WorkflowFilter,
};
use tempfile::TempDir;

use crate::{approvals, quarantines, revocations, sample, workflows};

/// A store for one test, with the directory its file lives in.
pub(crate) struct Fixture {
    store: SqliteStore,
    _dir: Option<TempDir>,
}

impl Fixture {
    pub(crate) fn file() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&db_path(&dir)).unwrap();
        Self {
            store,
            _dir: Some(dir),
        }
    }

    pub(crate) fn memory() -> Self {
        Self {
            store: SqliteStore::open_in_memory().unwrap(),
            _dir: None,
        }
    }

    pub(crate) fn store(&self) -> &dyn Store {
        &self.store
    }
}

/// A database path one directory below the temporary one, so `open` must create it.
fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("state").join("gatehouse.db")
}

fn open_err(path: &Path) -> StoreError {
    SqliteStore::open(path).expect_err("open should fail")
}

#[test]
fn reopening_a_file_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let stored = sample::events(0..50);
    {
        let store = SqliteStore::open(&path).unwrap();
        store.append_events(&stored).unwrap();
        assert!(store.claim_jti("iss", "j", 100, 10).unwrap());
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.event(stored[7].id).unwrap().as_ref(),
        Some(&stored[7])
    );
    let all = store.query_events(&EventFilter::default()).unwrap();
    assert_eq!(all.len(), 50);
    assert!(!store.claim_jti("iss", "j", 100, 20).unwrap());
}

#[test]
fn reopening_a_file_keeps_workflows_and_revocations() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let stored: Vec<_> = (0..5).map(workflows::sample).collect();
    // Newest first, as `revocations` lists them.
    let revoked: Vec<_> = RevocationKind::ALL
        .into_iter()
        .zip([3, 2, 1])
        .map(|(kind, at_ms)| revocations::revocation(kind, "x", at_ms))
        .collect();
    {
        let store = SqliteStore::open(&path).unwrap();
        for workflow in &stored {
            store.put_workflow(workflow).unwrap();
        }
        for revocation in &revoked {
            store.put_revocation(revocation).unwrap();
        }
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.workflow(&stored[3].id).unwrap().as_ref(),
        Some(&stored[3])
    );
    let listed = store.list_workflows(&WorkflowFilter::default()).unwrap();
    assert_eq!(listed.len(), stored.len());
    assert_eq!(store.revocations(1_700_000_000).unwrap(), revoked);
}

#[test]
fn reopening_a_file_keeps_quarantines() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let stored = quarantines::quarantine("q1", QuarantineKind::Tool, 5, 10_000);
    {
        let store = SqliteStore::open(&path).unwrap();
        store.put_quarantine(&stored).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.quarantines(6).unwrap(), vec![stored]);
}

#[test]
fn reopening_a_file_keeps_approvals() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let stored: Vec<_> = (0..10).map(approvals::sample).collect();
    {
        let store = SqliteStore::open(&path).unwrap();
        for approval in &stored {
            store.put_approval(approval).unwrap();
        }
    }
    let store = SqliteStore::open(&path).unwrap();
    for approval in &stored {
        assert_eq!(
            store.approval(&approval.id).unwrap().as_ref(),
            Some(approval)
        );
    }
    let listed = store.list_approvals(&ApprovalFilter::default()).unwrap();
    assert_eq!(listed.len(), stored.len());
}

#[test]
fn a_database_from_a_newer_gatehouse_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    drop(SqliteStore::open(&path).unwrap());
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute("INSERT INTO schema_version (version) VALUES (99)", [])
        .unwrap();
    drop(raw);
    let error = open_err(&path);
    assert!(
        matches!(error, StoreError::NewerSchema { found: 99, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("99"), "{message}");
}

#[test]
fn a_corrupt_file_is_unavailable_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.db");
    for garbage in [vec![0xAB_u8; 8192], b"not a database at all".to_vec()] {
        std::fs::write(&path, garbage).unwrap();
        let error = open_err(&path);
        assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(error.is_unavailable());
    }
}

#[test]
fn a_directory_in_place_of_the_file_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let error = open_err(dir.path());
    assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
}

#[test]
fn a_file_where_the_directory_should_be_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("state");
    std::fs::write(&blocker, b"").unwrap();
    let error = open_err(&blocker.join("gatehouse.db"));
    let message = error.to_string();
    assert!(message.contains("cannot create directory"), "{message}");
}

#[test]
fn a_thousand_events_append_in_one_quick_transaction() {
    let fixture = Fixture::file();
    let started = std::time::Instant::now();
    for batch in 0..5 {
        let first = batch * 2000;
        fixture
            .store()
            .append_events(&sample::events(first..first + 2000))
            .unwrap();
    }
    // Five fsynced batches of 2000; one transaction per event would take minutes.
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
}

#[test]
fn a_checkpoint_truncates_the_write_ahead_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).unwrap();
    store.append_events(&sample::events(0..500)).unwrap();
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    let before = std::fs::metadata(&wal).unwrap().len();
    assert!(before > 0, "writes went to the log first");
    assert_eq!(store.checkpoint().unwrap(), before);
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
    assert!(
        !store
            .query_events(&EventFilter::default())
            .unwrap()
            .is_empty(),
        "checkpointed rows stay readable"
    );
}

#[test]
fn the_log_is_copied_back_into_the_file_while_the_store_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    store.append_events(&sample::events(0..500)).unwrap();
    // Only a checkpoint writes pages into the database file itself; nobody calls one
    // here, and the writer connection never runs one on its own.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::metadata(&path).unwrap().len() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint copied the log back"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        store
            .query_events(&EventFilter {
                limit: Some(1000),
                ..EventFilter::default()
            })
            .unwrap()
            .len(),
        500
    );
}
