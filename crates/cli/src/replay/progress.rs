//! A progress bar on standard error, drawn only when it is a terminal (so scripts and
//! `--json` pipelines get clean output), redrawn at most every tenth of a second.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const WIDTH: usize = 30;
const REDRAW: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub(crate) struct Progress {
    shown: bool,
    last: Option<Instant>,
}

impl Progress {
    pub(crate) fn new() -> Self {
        Self {
            shown: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    /// `fraction` of the way through, having replayed `done` calls.
    pub(crate) fn update(&mut self, fraction: f64, done: u64) {
        if !self.shown || self.last.is_some_and(|last| last.elapsed() < REDRAW) {
            return;
        }
        self.last = Some(Instant::now());
        let filled = ((fraction * WIDTH as f64) as usize).min(WIDTH);
        let bar = format!("{}{}", "#".repeat(filled), "-".repeat(WIDTH - filled));
        let percent = (fraction * 100.0).round();
        let _ = write!(std::io::stderr(), "\r[{bar}] {percent:>3}%  {done} calls");
    }

    /// Clears the bar's line.
    pub(crate) fn finish(&self) {
        if self.shown && self.last.is_some() {
            let _ = write!(std::io::stderr(), "\r{}\r", " ".repeat(WIDTH + 24));
        }
    }
}
