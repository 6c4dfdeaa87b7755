//! Policy versions: every load is kept, newest first, every field read back.

use gatehouse_store::{PolicyVersion, Store};

fn version(n: i64, message: Option<&str>) -> PolicyVersion {
    PolicyVersion {
        version: format!("{n:064x}"),
        loaded_at_ms: 1_000 + n,
        by: "alice ünï \"quoted\"".to_owned(),
        message: message.map(str::to_owned),
        files: 3,
    }
}

pub(crate) fn policy_versions_read_back_every_field_newest_first(store: &dyn Store) {
    let loads = [
        version(1, None),
        version(2, Some("tighten ticket.delete")),
        version(1, Some("revert")),
    ];
    for load in &loads {
        store.record_policy_version(load).unwrap();
    }
    let mut newest_first = loads.to_vec();
    newest_first.reverse();
    assert_eq!(store.policy_versions(10).unwrap(), newest_first);
    assert_eq!(store.policy_versions(1).unwrap(), newest_first[..1]);
}

pub(crate) fn no_policy_versions_is_an_empty_list(store: &dyn Store) {
    assert!(store.policy_versions(10).unwrap().is_empty());
}
