//! A stdio server's supervision: at most one process at a time, launched on first use
//! and relaunched on the next request after it ends, under back-off so that a server
//! which crashes at once cannot spin the CPU.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use gatehouse_core::config::StdioCommand;
use gatehouse_core::model::ToolName;
use tokio::time::Instant;

use crate::mcp_upstream::UpstreamError;
use crate::mcp_upstream::backoff::Backoff;
use crate::mcp_upstream::process::Process;

#[derive(Debug)]
pub(super) struct Supervisor {
    server: ToolName,
    command: StdioCommand,
    limit: usize,
    /// Variables removed from the inherited environment (upstream secrets).
    withheld: Arc<[String]>,
    state: tokio::sync::Mutex<State>,
    closed: AtomicBool,
    launches: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    process: Option<Arc<Process>>,
    backoff: Backoff,
}

impl Supervisor {
    pub(super) fn new(
        server: ToolName,
        command: StdioCommand,
        limit: usize,
        withheld: Arc<[String]>,
    ) -> Self {
        Self {
            server,
            command,
            limit,
            withheld,
            state: tokio::sync::Mutex::default(),
            closed: AtomicBool::new(false),
            launches: AtomicU64::new(0),
        }
    }

    /// The running process, launched if there is none. A relaunch waits out the back-off
    /// when that ends before `deadline`, and fails at once when it does not.
    pub(super) async fn running(&self, deadline: Instant) -> Result<Arc<Process>, UpstreamError> {
        let mut state = self.state.lock().await;
        self.refuse_if_closed()?;
        if let Some(process) = state.process.as_ref().filter(|process| process.alive()) {
            return Ok(Arc::clone(process));
        }
        if let Some(ended) = state.process.take().and_then(|process| process.ended()) {
            state.backoff.exited(ended.at, ended.uptime);
        }
        let wait = state.backoff.wait(Instant::now());
        if !wait.is_zero() {
            if Instant::now() + wait >= deadline {
                return Err(self.backing_off(wait));
            }
            tokio::time::sleep(wait).await;
            self.refuse_if_closed()?;
        }
        self.launches.fetch_add(1, Ordering::Relaxed);
        match Process::spawn(&self.server, &self.command, &self.withheld, self.limit) {
            Ok(process) => {
                state.process = Some(Arc::clone(&process));
                Ok(process)
            }
            Err(error) => {
                state.backoff.exited(Instant::now(), Duration::ZERO);
                Err(error)
            }
        }
    }

    /// Launch attempts so far.
    pub(super) fn launches(&self) -> u64 {
        self.launches.load(Ordering::Relaxed)
    }

    /// Stops the process for good and waits until it is reaped.
    pub(super) async fn shutdown(&self) {
        self.closed.store(true, Ordering::Relaxed);
        let process = self.state.lock().await.process.take();
        if let Some(process) = process {
            process.stop();
            process.gone().await;
        }
    }

    fn refuse_if_closed(&self) -> Result<(), UpstreamError> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(UpstreamError::Unavailable(format!(
                "`{}` is shut down",
                self.server
            )));
        }
        Ok(())
    }

    fn backing_off(&self, wait: Duration) -> UpstreamError {
        UpstreamError::Unavailable(format!(
            "`{}` exited and is relaunched in {} ms (back-off after repeated exits)",
            self.server,
            wait.as_millis()
        ))
    }
}

impl Drop for Supervisor {
    /// Dropped without a shutdown: the process is still stopped (its task kills it after
    /// the grace period; `kill_on_drop` covers a runtime that goes away first).
    fn drop(&mut self) {
        if let Some(process) = self.state.get_mut().process.take() {
            process.stop();
        }
    }
}
