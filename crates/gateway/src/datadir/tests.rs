use gatehouse_store::Store;

use super::*;

#[test]
fn a_new_directory_gets_a_store_and_a_used_one_must_keep_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).unwrap();
    store.ping().unwrap();
    drop(store);
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    open(dir.path()).unwrap().ping().unwrap();
    std::fs::remove_file(dir.path().join(STORE_FILE)).unwrap();
    let error = open(dir.path()).unwrap_err();
    assert!(matches!(error, DataDirError::Missing { .. }), "{error}");
    assert!(
        error.to_string().contains("gatehouse store init"),
        "{error}"
    );
    assert_eq!(init(dir.path(), 7).unwrap(), Init::Created);
    open(dir.path()).unwrap().ping().unwrap();
}

#[test]
fn an_empty_store_file_is_refused_until_init_moves_it_aside() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()).unwrap());
    let path = dir.path().join(STORE_FILE);
    std::fs::write(&path, b"").unwrap();
    let error = open(dir.path()).unwrap_err();
    assert!(error.to_string().contains("empty (0 bytes)"), "{error}");
    let Init::Replaced { damaged } = init(dir.path(), 42).unwrap() else {
        panic!("the empty store was not replaced");
    };
    assert!(
        damaged
            .to_string_lossy()
            .ends_with("gatehouse.db.damaged-42")
    );
    assert!(damaged.exists());
    open(dir.path()).unwrap().ping().unwrap();
    assert_eq!(init(dir.path(), 43).unwrap(), Init::Kept);
}

#[test]
fn a_store_with_a_corrupt_page_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).unwrap();
    let workflows: Vec<_> = (0..400)
        .map(|seq| {
            gatehouse_core::workflow::Workflow::new(
                gatehouse_core::model::WorkflowId::new(format!("wf-{seq:05}")),
                gatehouse_core::model::AgentId::new("spiffe://acme/agent/a"),
                gatehouse_core::model::TaskClassName::new("triage"),
                gatehouse_core::model::SegmentName::new("data"),
                gatehouse_core::workflow::Budget::default(),
                1,
                60,
            )
        })
        .collect();
    for workflow in &workflows {
        store.put_workflow(workflow).unwrap();
    }
    drop(store);
    let path = dir.path().join(STORE_FILE);
    // Checkpointed on close: the pages are in the main file. Scribble over its last page.
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    assert!(len > 8192, "{len}");
    for byte in &mut bytes[len - 4096..len - 8] {
        *byte = 0xA5;
    }
    std::fs::write(&path, bytes).unwrap();
    let error = open(dir.path()).unwrap_err();
    assert!(matches!(error, DataDirError::Damaged(_)), "{error}");
}
