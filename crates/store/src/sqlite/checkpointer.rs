//! Copies the write-ahead log back into the database on a thread and connection of its
//! own.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses 1,000 log pages, on
//! the committing connection: with one writer connection behind a mutex, every writer
//! (a token exchange's admission, an event block) then waits behind the page copies and
//! two `fsync`s, which was the token exchange's p99 on one core. The writer connection
//! has automatic checkpoints off (`connect::writer`); this thread runs SQLite's PASSIVE
//! checkpoint, which never takes the write lock, soon after new pages appear. The
//! gateway's periodic TRUNCATE checkpoint (`Store::checkpoint`) stays as the backstop
//! that reports failures and gives the log's disk space back.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// The pause after a checkpoint that found new pages: a log written this fast is kept to
/// a few hundred pages between checkpoints.
const BUSY_PAUSE: Duration = Duration::from_millis(100);
/// The pause after a checkpoint that found nothing new.
const IDLE_PAUSE: Duration = Duration::from_secs(1);

/// The checkpoint thread; dropping this stops it and waits for it to end.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a connection to the database at `path` and starts checkpointing through it.
    pub(super) fn start(path: &Path) -> Result<Self, String> {
        let conn = super::connect::checkpointer(path).map_err(|error| error.to_string())?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("gatehouse-checkpoint".to_owned())
            .spawn(move || run(&conn, &stopped))
            .map_err(|error| format!("cannot start the checkpoint thread: {error}"))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A checkpoint in progress finishes first; it cannot panic short of a bug in
            // SQLite, and there is nothing to do about one here.
            let _ = thread.join();
        }
    }
}

/// Checkpoints until the sender is dropped: soon after a checkpoint that found new pages,
/// seldom after one that did not. A failed checkpoint (the database busy with another
/// process's checkpoint, say) is tried again after the idle pause.
fn run(conn: &Connection, stopped: &mpsc::Receiver<()>) {
    let mut last_frames = None;
    let mut pause = IDLE_PAUSE;
    loop {
        match stopped.recv_timeout(pause) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        pause = match passive(conn) {
            Ok(frames) if Some(frames) != last_frames => {
                last_frames = Some(frames);
                BUSY_PAUSE
            }
            Ok(_) | Err(_) => IDLE_PAUSE,
        };
    }
}

/// One PASSIVE checkpoint: copies what no reader still needs, without waiting for
/// readers or writers. Answers the number of pages in the log, so that a log that grew
/// since the last checkpoint (or started again from its beginning) can be told apart.
fn passive(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}
