//! The events file: one JSON line per event, beside the store (which is the record).

use std::io::Write;
use std::path::PathBuf;

use gatehouse_core::event::EventLine;

/// The optional JSON-lines file, opened lazily in append mode. A batch goes in one
/// write; when a write fails (a full disk, a removed directory) the file is cut back to
/// where the batch began, so no torn line stays, and the batch's lines wait in memory
/// (bounded) to go first with the next batch. Lines are only lost past the bound, and
/// then the log says how many: the store, not this file, is the record.
pub(super) struct JsonLines {
    pub(super) path: Option<PathBuf>,
    file: Option<std::fs::File>,
    /// Lines not yet in the file, oldest first, each ending in `\n`.
    pending: Vec<u8>,
}

/// Most bytes of lines kept waiting for the file.
const MAX_PENDING_LINES: usize = 64 * 1024 * 1024;

impl JsonLines {
    pub(super) fn new(path: Option<PathBuf>) -> Self {
        Self {
            path,
            file: None,
            pending: Vec::new(),
        }
    }

    pub(super) fn append(&mut self, events: &[EventLine<'_>]) {
        let Some(path) = self.path.clone() else {
            return;
        };
        for line in events {
            self.pending.extend_from_slice(line.json.as_bytes());
            self.pending.push(b'\n');
        }
        match self.try_write() {
            Ok(()) => self.pending.clear(),
            Err(error) => {
                tracing::error!(%error, path = %path.display(), waiting = self.pending.len(), "cannot append to the events file; the lines wait for the next batch");
                self.file = None;
                if self.pending.len() > MAX_PENDING_LINES {
                    tracing::error!(
                        bytes = self.pending.len(),
                        "events file lines dropped: the file has been failing too long"
                    );
                    self.pending.clear();
                }
            }
        }
    }

    /// Writes every pending line at once, or cuts the file back to where it was.
    fn try_write(&mut self) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(self.open()?),
        };
        let start = file.metadata()?.len();
        if let Err(error) = file.write_all(&self.pending) {
            let _ = file.set_len(start);
            return Err(error);
        }
        Ok(())
    }

    fn open(&self) -> std::io::Result<std::fs::File> {
        let path = self
            .path
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no path"))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_core::clock::UnixTime;
    use gatehouse_core::event::Event;
    use gatehouse_core::ids::{DecisionId, IdGenerator};

    use super::super::tests::event;
    use super::*;

    #[test]
    fn a_file_that_cannot_be_written_keeps_its_lines_for_the_next_batch_and_tears_none() {
        let dir = tempfile::tempdir().unwrap();
        // The events file's directory is a plain file: every open fails, as on a disk
        // whose directory went away.
        let blocked = dir.path().join("logs");
        std::fs::write(&blocked, "not a directory").unwrap();
        let path = blocked.join("events.jsonl");
        let mut lines = JsonLines::new(Some(path.clone()));
        let ids = IdGenerator::default();
        let first: Vec<Event> = (0..3)
            .map(|_| event(ids.next(UnixTime::from_secs(1))))
            .collect();
        lines.append(&EventLine::all(&first));
        assert!(!path.exists());
        std::fs::remove_file(&blocked).unwrap();
        let second: Vec<Event> = (0..2)
            .map(|_| event(ids.next(UnixTime::from_secs(2))))
            .collect();
        lines.append(&EventLine::all(&second));
        let text = std::fs::read_to_string(&path).unwrap();
        let written: Vec<Event> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let expected: Vec<DecisionId> = first.iter().chain(&second).map(|event| event.id).collect();
        assert_eq!(
            written.iter().map(|event| event.id).collect::<Vec<_>>(),
            expected,
            "every line, in order, none torn"
        );
    }
}
