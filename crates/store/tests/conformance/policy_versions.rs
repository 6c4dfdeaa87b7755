//! Policy versions: every load is kept, newest first, every field read back.

use gatehouse_store::{PolicySet, PolicySetFile, PolicyVersion, Store};

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

fn set(n: u8) -> PolicySet {
    PolicySet {
        version: format!("{n:064x}"),
        shared_at_ms: 2_000 + i64::from(n),
        by: "alice ünï".to_owned(),
        files: vec![
            PolicySetFile {
                path: "/etc/gatehouse/policies/a.cedar".to_owned(),
                text: format!("permit(principal, action, resource); // {n} \"quoted\""),
            },
            PolicySetFile {
                path: "/etc/gatehouse/policies/b.cedar".to_owned(),
                text: String::new(),
            },
        ],
    }
}

/// A shared store gives back the newest shared set whole, later shares with a greater
/// `seq`; the embedded store has nobody to share with and keeps nothing.
pub(crate) fn the_newest_shared_policy_set_reads_back_whole(store: &dyn Store) {
    assert_eq!(store.newest_policy_set().unwrap(), None);
    store.share_policy_set(&set(1)).unwrap();
    let first = store.newest_policy_set().unwrap();
    if !store.is_shared() {
        assert_eq!(first, None);
        return;
    }
    let first = first.unwrap();
    assert_eq!(first.set, set(1));
    for n in 2..=12 {
        store.share_policy_set(&set(n)).unwrap();
    }
    // A revert shares an older version again: it is the newest now.
    store.share_policy_set(&set(1)).unwrap();
    let newest = store.newest_policy_set().unwrap().unwrap();
    assert_eq!(newest.set, set(1));
    assert!(
        newest.seq > first.seq + 11,
        "{} after {}",
        newest.seq,
        first.seq
    );
}
