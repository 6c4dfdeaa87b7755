//! The data directory's store, opened strictly: a damaged store (an empty file, or one
//! failing its integrity check) or a missing one where Gatehouse has run before is refused
//! at start-up, since starting empty would forget every revocation, workflow and budget.
//! A new store is created only in a new data directory, or on an explicit init.

use std::path::{Path, PathBuf};

use gatehouse_store::{SqliteStore, StoreError};

/// The store's file name in the data directory.
pub const STORE_FILE: &str = "gatehouse.db";
/// What shows that Gatehouse has run in a data directory before.
const TRACES: [&str; 2] = ["keys", "journal"];

/// Why the data directory's store was not opened.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error(
        "{0}; refusing to start. To start over with a new, empty store (every workflow, \
         revocation and approval forgotten), run `gatehouse store init` or \
         `gatehouse serve --init`: the damaged file is kept aside"
    )]
    Damaged(StoreError),
    #[error(
        "the store `{path}` is missing, but this data directory was used before (`{trace}` \
         exists); refusing to start with an empty store. Restore the file, or run \
         `gatehouse store init` or `gatehouse serve --init` to start a new one"
    )]
    Missing { path: PathBuf, trace: PathBuf },
    #[error(transparent)]
    Store(StoreError),
    #[error("cannot move the damaged store `{path}` aside: {source}")]
    MoveAside {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What [`init`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Init {
    /// There was no store: a new one was created.
    Created,
    /// The store is sound and was kept.
    Kept,
    /// A damaged store was moved to this path and a new one created.
    Replaced { damaged: PathBuf },
}

/// Opens the store of `data_dir`: the existing one, verified, or a new one in a new data
/// directory.
pub fn open(data_dir: &Path) -> Result<SqliteStore, DataDirError> {
    let path = data_dir.join(STORE_FILE);
    if path.exists() {
        return SqliteStore::open_existing(&path).map_err(classify);
    }
    if let Some(trace) = TRACES
        .iter()
        .map(|name| data_dir.join(name))
        .find(|trace| trace.exists())
    {
        return Err(DataDirError::Missing { path, trace });
    }
    tracing::info!(path = %path.display(), "new data directory: creating the store");
    SqliteStore::open(&path).map_err(DataDirError::Store)
}

/// Makes sure `data_dir` has a sound store: keeps a sound one, creates a missing one, and
/// moves a damaged one aside (`gatehouse.db.damaged-UNIXSECS`, with its WAL files) before
/// creating a new one.
pub fn init(data_dir: &Path, now_secs: i64) -> Result<Init, DataDirError> {
    let path = data_dir.join(STORE_FILE);
    if !path.exists() {
        SqliteStore::open(&path).map_err(DataDirError::Store)?;
        return Ok(Init::Created);
    }
    match SqliteStore::open_existing(&path).map_err(classify) {
        Ok(_) => Ok(Init::Kept),
        Err(DataDirError::Damaged(error)) => {
            tracing::warn!(%error, "replacing the damaged store with a new, empty one");
            let damaged = move_aside(&path, now_secs)?;
            SqliteStore::open(&path).map_err(DataDirError::Store)?;
            Ok(Init::Replaced { damaged })
        }
        Err(other) => Err(other),
    }
}

fn classify(error: StoreError) -> DataDirError {
    match error {
        StoreError::Damaged { .. } => DataDirError::Damaged(error),
        other => DataDirError::Store(other),
    }
}

fn move_aside(path: &Path, now_secs: i64) -> Result<PathBuf, DataDirError> {
    let aside = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        name.push(format!(".damaged-{now_secs}"));
        PathBuf::from(name)
    };
    let moved = aside("");
    for suffix in ["", "-wal", "-shm"] {
        let mut from = path.as_os_str().to_owned();
        from.push(suffix);
        let from = PathBuf::from(from);
        if !from.exists() {
            continue;
        }
        std::fs::rename(&from, aside(suffix)).map_err(|source| DataDirError::MoveAside {
            path: from.clone(),
            source,
        })?;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests;
