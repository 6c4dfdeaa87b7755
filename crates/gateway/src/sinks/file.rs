//! The file and stdout sinks: JSON lines appended in one write per batch, on the
//! blocking pool. A file is rotated before a batch would take it past its size:
//! `path` → `path.1` → … → `path.{keep}`, the oldest dropped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gatehouse_store::StoredLine;

/// Where lines go.
#[derive(Debug)]
enum Output {
    Stdout,
    Rotating {
        path: PathBuf,
        max_bytes: u64,
        keep: u32,
        /// Open file and its size; reopened after a failure.
        open: Option<(std::fs::File, u64)>,
    },
}

/// A JSON-lines output, shared with the blocking task that writes it.
#[derive(Debug)]
pub(super) struct Lines(Arc<Mutex<Output>>);

impl Lines {
    pub(super) fn stdout() -> Self {
        Self(Arc::new(Mutex::new(Output::Stdout)))
    }

    pub(super) fn rotating(path: PathBuf, max_bytes: u64, keep: u32) -> Self {
        Self(Arc::new(Mutex::new(Output::Rotating {
            path,
            max_bytes,
            keep,
            open: None,
        })))
    }

    pub(super) async fn deliver(&self, lines: Arc<Vec<StoredLine>>) -> Result<(), String> {
        let output = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || {
            let mut output = output
                .lock()
                .map_err(|_| "the sink's writer panicked".to_owned())?;
            output
                .write(&text(&lines))
                .map_err(|error| error.to_string())
        })
        .await
        .map_err(|error| error.to_string())?
    }
}

/// The batch as one text, a newline after each line.
fn text(lines: &[StoredLine]) -> Vec<u8> {
    let size = lines.iter().map(|line| line.line.len() + 1).sum();
    let mut text = Vec::with_capacity(size);
    for line in lines {
        text.extend_from_slice(line.line.as_bytes());
        text.push(b'\n');
    }
    text
}

impl Output {
    fn write(&mut self, text: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(text)?;
                out.flush()
            }
            Self::Rotating {
                path,
                max_bytes,
                keep,
                open,
            } => {
                let written = append(path, *max_bytes, *keep, open, text);
                if written.is_err() {
                    *open = None;
                }
                written
            }
        }
    }
}

fn append(
    path: &Path,
    max_bytes: u64,
    keep: u32,
    open: &mut Option<(std::fs::File, u64)>,
    text: &[u8],
) -> std::io::Result<()> {
    let adding = u64::try_from(text.len()).unwrap_or(u64::MAX);
    let (mut file, mut size) = match open.take() {
        Some(held) => held,
        None => open_file(path)?,
    };
    // A file found too full at start-up is rotated before its first batch too.
    if size > 0 && size.saturating_add(adding) > max_bytes {
        drop(file);
        rotate(path, keep)?;
        (file, size) = open_file(path)?;
    }
    file.write_all(text)?;
    *open = Some((file, size.saturating_add(adding)));
    Ok(())
}

fn open_file(path: &Path) -> std::io::Result<(std::fs::File, u64)> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

/// `path.{n}` → `path.{n+1}` from the oldest kept, then `path` → `path.1`.
fn rotate(path: &Path, keep: u32) -> std::io::Result<()> {
    let numbered = |n: u32| {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    if keep == 0 {
        return std::fs::remove_file(path);
    }
    for n in (1..keep).rev() {
        match std::fs::rename(numbered(n), numbered(n + 1)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    std::fs::rename(path, numbered(1))
}

#[cfg(test)]
mod tests {
    use gatehouse_store::Position;

    use super::*;

    fn line(n: u32) -> StoredLine {
        StoredLine {
            position: Position { block: 1, index: n },
            line: format!("{{\"n\":{n:04}}}"),
        }
    }

    #[tokio::test]
    async fn a_file_rotates_by_size_and_keeps_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        // Each line is 11 bytes with its newline: three fit in 40 bytes.
        let sink = Lines::rotating(path.clone(), 40, 2);
        for n in 0..10 {
            sink.deliver(Arc::new(vec![line(n)])).await.unwrap();
        }
        let read = |suffix: &str| {
            std::fs::read_to_string(format!("{}{suffix}", path.display())).unwrap_or_default()
        };
        assert_eq!(read(""), "{\"n\":0009}\n");
        assert_eq!(read(".1"), "{\"n\":0006}\n{\"n\":0007}\n{\"n\":0008}\n");
        assert_eq!(read(".2"), "{\"n\":0003}\n{\"n\":0004}\n{\"n\":0005}\n");
        assert!(!dir.path().join("events.jsonl.3").exists());
    }

    #[tokio::test]
    async fn a_file_already_full_at_start_is_rotated_before_its_first_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "x".repeat(39)).unwrap();
        let sink = Lines::rotating(path.clone(), 40, 1);
        sink.deliver(Arc::new(vec![line(1)])).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"n\":0001}\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("events.jsonl.1")).unwrap(),
            "x".repeat(39)
        );
    }

    #[tokio::test]
    async fn a_batch_larger_than_the_limit_still_lands_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let sink = Lines::rotating(path.clone(), 20, 1);
        sink.deliver(Arc::new((0..4).map(line).collect()))
            .await
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 4);
    }
}
