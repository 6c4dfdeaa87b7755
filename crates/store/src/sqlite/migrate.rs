//! Schema migrations: an ordered list of SQL scripts, each applied once, in one
//! transaction with the record of its version in `schema_version`.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::OrUnavailable;
use crate::error::StoreError;

/// One step of the schema.
struct Migration {
    version: i64,
    sql: &'static str,
}

// INVARIANT: versions are 1, 2, 3, … in order; a released migration is never edited,
// only followed by a new one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/sqlite/0001_events.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/sqlite/0002_jti_claims.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../migrations/sqlite/0003_workflows.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../migrations/sqlite/0004_revocations.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../migrations/sqlite/0005_event_actor.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("../migrations/sqlite/0006_approvals.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("../migrations/sqlite/0007_event_outcomes.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("../migrations/sqlite/0008_event_lines.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("../migrations/sqlite/0009_event_blocks.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("../migrations/sqlite/0010_workflow_leases.sql"),
    },
    Migration {
        version: 11,
        sql: EVENT_CHAIN,
    },
    Migration {
        version: 12,
        sql: include_str!("../migrations/sqlite/0012_quarantines.sql"),
    },
    Migration {
        version: 13,
        sql: include_str!("../migrations/sqlite/0013_chain_anchor.sql"),
    },
    Migration {
        version: 14,
        sql: include_str!("../migrations/sqlite/0014_recordings.sql"),
    },
    Migration {
        version: 15,
        sql: include_str!("../migrations/sqlite/0015_sink_cursors.sql"),
    },
    Migration {
        version: 16,
        sql: include_str!("../migrations/sqlite/0016_policy_versions.sql"),
    },
    Migration {
        version: 17,
        sql: include_str!("../migrations/sqlite/0017_budget_pools.sql"),
    },
    Migration {
        version: 18,
        sql: include_str!("../migrations/sqlite/0018_baseline_hours.sql"),
    },
    Migration {
        version: 19,
        sql: include_str!("../migrations/sqlite/0019_workflow_checks.sql"),
    },
];

/// The step that adds the events' hash chain; after it, the events stored before are
/// linked in store order (`events::chain::backfill`), in the same transaction.
const EVENT_CHAIN: &str = include_str!("../migrations/sqlite/0011_event_chain.sql");

const CREATE_VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY)";

/// Brings the schema to the newest version this binary knows, or refuses a database
/// whose schema is newer still. Runs in one immediate transaction, so two processes
/// opening the same new file do not both migrate it.
pub(super) fn run(conn: &mut Connection, location: &str) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .or_unavailable(location)?;
    tx.execute_batch(CREATE_VERSION_TABLE)
        .or_unavailable(location)?;
    let current = current_version(&tx).or_unavailable(location)?;
    let known = known_version();
    if current > known {
        return Err(StoreError::NewerSchema {
            location: location.to_owned(),
            found: current,
            known,
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        apply(&tx, migration).or_unavailable(location)?;
    }
    tx.commit().or_unavailable(location)
}

/// Applies the steps up to and including `version` only, so tests can write data the
/// way an older Gatehouse did and check what a later step makes of it.
#[cfg(test)]
pub(super) fn run_until(conn: &Connection, version: i64) -> rusqlite::Result<()> {
    conn.execute_batch(CREATE_VERSION_TABLE)?;
    for migration in MIGRATIONS.iter().filter(|m| m.version <= version) {
        apply(conn, migration)?;
    }
    Ok(())
}

/// A fresh in-memory database with every step applied, for the statements' own tests.
#[cfg(test)]
pub(super) fn migrated_in_memory() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    run(&mut conn, "test").unwrap();
    conn
}

/// The newest schema version this binary can read and write.
fn known_version() -> i64 {
    MIGRATIONS.last().map_or(0, |migration| migration.version)
}

fn current_version(conn: &Connection) -> rusqlite::Result<i64> {
    let version: Option<i64> = conn
        .query_row("SELECT max(version) FROM schema_version", [], |row| {
            row.get(0)
        })
        .optional()?
        .flatten();
    Ok(version.unwrap_or(0))
}

fn apply(conn: &Connection, migration: &Migration) -> rusqlite::Result<()> {
    conn.execute_batch(migration.sql)?;
    if migration.sql == EVENT_CHAIN {
        super::events::chain::backfill(conn)?;
    }
    conn.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        [migration.version],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1);
        }
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        run(&mut conn, "test").unwrap();
        run(&mut conn, "test").unwrap();
        assert_eq!(current_version(&conn).unwrap(), known_version());
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM schema_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, known_version());
    }

    /// The rebuilt table keeps every row whole (rowid and lease too) and its checks
    /// accept and refuse what the `IN` lists did.
    #[test]
    fn rebuilding_workflows_keeps_rows_and_the_same_checks() {
        let mut conn = Connection::open_in_memory().unwrap();
        run_until(&conn, 18).unwrap();
        let row = "SELECT rowid, * FROM workflows ORDER BY rowid";
        let insert =
            |values: &str| conn.execute(&format!("INSERT INTO workflows VALUES ({values})"), []);
        for values in [
            "'a', 'x', 't', 's', 'paused', 1, 2, 3, 4, 5, 6, 7, 8, 'bytes', NULL, 9, 10, 11",
            "'b', 'y', 't', 's', 'ended', 0, 0, 0, 0, 0, 0, -1, 0, NULL, 'op \"q\"', 0, 0, 0",
        ] {
            insert(values).unwrap();
        }
        conn.execute("DELETE FROM workflows WHERE id = 'a'", [])
            .unwrap();
        insert("'a', 'x', 't', 's', 'paused', 1, 2, 3, 4, 5, 6, 7, 8, 'bytes', NULL, 9, 10, 11")
            .unwrap();
        let before = rows(&conn, row);
        run(&mut conn, "test").unwrap();
        assert_eq!(rows(&conn, row), before);
        let insert =
            |values: &str| conn.execute(&format!("INSERT INTO workflows VALUES ({values})"), []);
        for (n, (status, paused_for, accepted)) in [
            ("active", "NULL", true),
            ("expired", "'calls'", true),
            ("paused", "'writes'", true),
            ("Active", "NULL", false),
            ("active", "'time'", false),
            ("active", "''", false),
        ]
        .into_iter()
        .enumerate()
        {
            let values = format!(
                "'new-{n}', 'x', 't', 's', '{status}', 0, 0, 0, 0, 0, 0, 0, 0, \
                 {paused_for}, NULL, 0, 0, 0"
            );
            assert_eq!(insert(&values).is_ok(), accepted, "{status} {paused_for}");
        }
    }

    fn rows(conn: &Connection, sql: &str) -> Vec<String> {
        let mut statement = conn.prepare(sql).unwrap();
        let columns = statement.column_count();
        statement
            .query_map([], |row| {
                let values: Vec<String> = (0..columns)
                    .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                    .collect();
                Ok(values.join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn an_older_schema_gets_only_the_missing_steps() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(CREATE_VERSION_TABLE).unwrap();
        for migration in MIGRATIONS.iter().take(2) {
            apply(&conn, migration).unwrap();
        }
        conn.execute(
            "INSERT INTO jti_claims (issuer, jti, expires_at) VALUES ('i', 'j', 1)",
            [],
        )
        .unwrap();
        run(&mut conn, "test").unwrap();
        assert_eq!(current_version(&conn).unwrap(), known_version());
        let kept: i64 = conn
            .query_row("SELECT count(*) FROM jti_claims", [], |row| row.get(0))
            .unwrap();
        assert_eq!(kept, 1);
        for table in ["workflows", "revocations", "approvals"] {
            let sql = format!("SELECT count(*) FROM {table}");
            let rows: i64 = conn.query_row(&sql, [], |row| row.get(0)).unwrap();
            assert_eq!(rows, 0, "{table}");
        }
    }
}
