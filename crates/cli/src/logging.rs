//! The operator's log: `GATEHOUSE_LOG` filters it (default `info`), `--log-format`
//! chooses text or one JSON object per line, colours only on a terminal. Lines are
//! written by a thread of their own so a call never waits on the log's write syscall,
//! only on handing its line over (and on a full queue when the log cannot keep up).

use std::io::{IsTerminal as _, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use gatehouse_gateway::access_log;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Lines queued for the writer thread before callers wait for it.
const QUEUE_LINES: usize = 8192;

/// How long the writer sleeps when the queue is empty.
const WRITE_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object per line, fields as keys.
    Json,
}

/// Keeps the writer thread; dropping it writes what is queued and stops the thread.
pub(crate) struct LogGuard {
    writer: Option<JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        // The subscriber's sender lives in the global dispatcher; a last empty line is
        // the stop signal, so the thread ends once everything before it is written.
        if let Some(sender) = STOP.get() {
            let _ = sender.send(Vec::new());
        }
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

static STOP: std::sync::OnceLock<SyncSender<Vec<u8>>> = std::sync::OnceLock::new();

pub(crate) fn init(format: LogFormat) -> LogGuard {
    let filter =
        EnvFilter::try_from_env("GATEHOUSE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let (sender, receiver) = sync_channel(QUEUE_LINES);
    let writer = std::thread::Builder::new()
        .name("gatehouse-log".to_owned())
        .spawn(move || write_lines(&receiver))
        .ok();
    let _ = STOP.set(sender.clone());
    let ansi = std::io::stderr().is_terminal();
    if !ansi {
        hand_written_access_lines(format, sender.clone());
    }
    let make = QueueWriter { sender };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(make);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    LogGuard { writer }
}

/// Access lines are written by hand (`gatehouse_gateway::access_log`), the same bytes
/// the subscriber below would write, on the same queue so lines keep their order; the
/// subscriber's filter still decides which are written. Coloured terminal output stays
/// with the subscriber.
fn hand_written_access_lines(format: LogFormat, sender: SyncSender<Vec<u8>>) {
    let format = match format {
        LogFormat::Text => access_log::Format::Text,
        LogFormat::Json => access_log::Format::Json,
    };
    // Installed once per process; a second `init` (never made) would keep the first.
    let _ = access_log::Sink::new(format, move |line| queue(&sender, line)).install();
}

/// Writes each queued line to stderr, flushing whenever the queue is empty; an empty
/// line stops it.
fn write_lines(receiver: &Receiver<Vec<u8>>) {
    let mut stderr = std::io::BufWriter::new(std::io::stderr());
    loop {
        // Drains what is queued, then sleeps rather than blocking on the queue: a writer
        // blocked in `recv` is woken (a futex call and a context switch) by every line,
        // which on a busy gateway costs more than the line itself. Lines wait at most
        // one pause.
        loop {
            match receiver.try_recv() {
                Ok(line) if line.is_empty() => {
                    let _ = stderr.flush();
                    return;
                }
                Ok(line) => {
                    let _ = stderr.write_all(&line);
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    let _ = stderr.flush();
                    return;
                }
            }
        }
        let _ = stderr.flush();
        std::thread::sleep(WRITE_PAUSE);
    }
}

#[derive(Clone)]
struct QueueWriter {
    sender: SyncSender<Vec<u8>>,
}

/// One formatted event: the subscriber writes it whole, then drops the writer, which
/// queues it.
struct Line<'a> {
    sender: &'a SyncSender<Vec<u8>>,
    bytes: Vec<u8>,
}

impl<'a> MakeWriter<'a> for QueueWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            sender: &self.sender,
            bytes: Vec::new(),
        }
    }
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if self.bytes.is_empty() {
            return;
        }
        queue(self.sender, std::mem::take(&mut self.bytes));
    }
}

/// Hands a finished line to the writer thread, waiting while its queue is full.
fn queue(sender: &SyncSender<Vec<u8>>, line: Vec<u8>) {
    // The writer thread is gone only at exit, or if it could not start: then write
    // directly rather than lose the line.
    if let Err(error) = sender.send(line) {
        let _ = std::io::stderr().write_all(&error.0);
    }
}
