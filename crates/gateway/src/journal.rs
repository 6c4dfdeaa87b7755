//! The write-ahead journal of forwarded calls: before a call goes upstream its draft event
//! is appended, in one `write(2)`, to the current journal segment. A `kill -9` keeps what
//! was written (the page cache survives the process; no fsync is needed for that), so at
//! the next start every journaled call whose final event never reached the store gets one
//! (outcome `error`, the gateway stopped mid-call), and no call the upstream saw goes
//! unrecorded.
//!
//! A segment is deleted once every call journaled in it has its event in the store: each
//! journaled call holds a [`Ticket`] (a reference to its segment) until the event writer
//! has committed the call's event. Segments are rotated from the maintenance task.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use gatehouse_core::event::{Event, EventLine, Outcome};

/// The extension of segment files.
const EXTENSION: &str = "journal";
/// A segment is rotated by the frequent tick once it holds this much.
const ROTATE_BYTES: u64 = 64 * 1024;

/// What the event of a call the gateway stopped in the middle of says.
pub const STOPPED_MID_CALL: &str = "the gateway stopped mid-call (crash or kill): the call \
     was charged and may have reached the upstream; its answer and byte counts are unknown";

/// Keeps a call's journal segment until the call's event is in the store.
pub type Ticket = Arc<Segment>;

/// One journal file.
#[derive(Debug)]
pub struct Segment {
    path: PathBuf,
    /// `None` for a segment found at start-up, only read.
    file: Option<File>,
    written: AtomicU64,
    /// Set once no new call is journaled here: the last ticket then deletes the file.
    retired: AtomicBool,
}

impl Drop for Segment {
    fn drop(&mut self) {
        if !self.retired.load(Ordering::Acquire) {
            return;
        }
        if let Err(error) = std::fs::remove_file(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, path = %self.path.display(), "cannot delete a journal segment");
        }
    }
}

/// The journal directory and its current segment.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    current: RwLock<Ticket>,
    next: AtomicU64,
}

/// Calls journaled by an earlier run whose events are not in the store yet.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Each with the ticket of its old segment: written, the segment goes.
    pub events: Vec<(Event, Ticket)>,
}

impl Journal {
    /// Opens the journal in `dir`, reading what earlier runs left there. `recorded` tells
    /// whether an event id is already in the store.
    pub fn open(
        dir: &Path,
        recorded: impl Fn(&Event) -> std::io::Result<bool>,
    ) -> std::io::Result<(Self, Recovered)> {
        std::fs::create_dir_all(dir)?;
        let old = segments(dir)?;
        let next = old.iter().map(|(seq, _)| seq + 1).max().unwrap_or(0);
        let recovered = recover(old, &recorded)?;
        let first = Segment::create(dir, next)?;
        let journal = Self {
            dir: dir.to_owned(),
            current: RwLock::new(Arc::new(first)),
            next: AtomicU64::new(next + 1),
        };
        Ok((journal, recovered))
    }

    /// Appends `event` (a forwarded call's draft) in one write; the ticket keeps it until
    /// the call's final event is stored.
    pub fn append(&self, event: &Event) -> std::io::Result<Ticket> {
        let mut line = EventLine::new(event).json;
        line.push('\n');
        let segment = Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        let file = segment
            .file
            .as_ref()
            .ok_or_else(|| std::io::Error::other("journal segment is read-only"))?;
        // O_APPEND: concurrent appends from many threads do not interleave within a line.
        (&*file).write_all(line.as_bytes())?;
        segment
            .written
            .fetch_add(line.len() as u64, Ordering::Relaxed);
        Ok(segment)
    }

    /// Starts a new segment when the current one holds at least `min_bytes` (and any);
    /// the old one goes once its last call's event is stored.
    pub fn rotate(&self, min_bytes: u64) {
        let written = self.current_written();
        if written == 0 || written < min_bytes {
            return;
        }
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let fresh = match Segment::create(&self.dir, seq) {
            Ok(fresh) => Arc::new(fresh),
            Err(error) => {
                tracing::error!(%error, dir = %self.dir.display(), "cannot start a journal segment");
                return;
            }
        };
        let old = std::mem::replace(
            &mut *self
                .current
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            fresh,
        );
        old.retired.store(true, Ordering::Release);
    }

    /// For the frequent tick: rotates a segment that grew large.
    pub fn rotate_large(&self) {
        self.rotate(ROTATE_BYTES);
    }

    fn current_written(&self) -> u64 {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .written
            .load(Ordering::Relaxed)
    }
}

impl Segment {
    fn create(dir: &Path, seq: u64) -> std::io::Result<Self> {
        let path = dir.join(format!("{seq:020}.{EXTENSION}"));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self {
            path,
            file: Some(file),
            written: AtomicU64::new(0),
            retired: AtomicBool::new(false),
        })
    }

    fn old(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            written: AtomicU64::new(0),
            retired: AtomicBool::new(true),
        }
    }
}

/// The segment files in `dir`, in order.
fn segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|ext| ext.to_str()) != Some(EXTENSION) {
            continue;
        }
        let seq = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .and_then(|stem| stem.parse::<u64>().ok());
        if let Some(seq) = seq {
            found.push((seq, path));
        }
    }
    found.sort();
    Ok(found)
}

/// Reads old segments: every journaled call without a stored event becomes a stopped-
/// mid-call event holding its segment's ticket. Torn or unreadable lines (a kill within a
/// write) are skipped: their calls had not been forwarded yet.
fn recover(
    old: Vec<(u64, PathBuf)>,
    recorded: &impl Fn(&Event) -> std::io::Result<bool>,
) -> std::io::Result<Recovered> {
    let mut recovered = Recovered::default();
    let mut seen = HashSet::new();
    for (_, path) in old {
        let reader = BufReader::new(File::open(&path)?);
        let ticket = Arc::new(Segment::old(path));
        for line in reader.split(b'\n') {
            let Ok(event) = serde_json::from_slice::<Event>(&line?) else {
                continue;
            };
            if !seen.insert(event.id) || recorded(&event)? {
                continue;
            }
            recovered.events.push((stopped(event), Arc::clone(&ticket)));
        }
    }
    Ok(recovered)
}

/// The event of a call cut by the gateway's stop: what was known when it was forwarded.
fn stopped(mut event: Event) -> Event {
    event.outcome = Outcome::Error;
    event.status = 0;
    event.reason = Some(match event.reason.take() {
        Some(previous) => format!("{STOPPED_MID_CALL}; {previous}"),
        None => STOPPED_MID_CALL.to_owned(),
    });
    event
}

#[cfg(test)]
mod tests;
