//! One running stdio server: requests go out on stdin as lines, responses come back on
//! stdout and are routed by id to whoever waits, progress notifications by the token
//! Gatehouse sent with the request to its relay, stderr goes to the log, and the end of
//! the process fails everything still waiting. One task per process owns the child.
//! Other notifications (log messages among them: stdio does not say which request one
//! is about) are dropped.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use gatehouse_core::config::StdioCommand;
use gatehouse_core::model::ToolName;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::{Notify, oneshot, watch};
use tokio::time::Instant;

use crate::mcp_upstream::lines::{Line, Lines};
use crate::mcp_upstream::relay::{self, Relaying};
use crate::mcp_upstream::{Handshake, RawOutcome, UpstreamError, handshake, tree};
use gatehouse_core::mcp::jsonrpc::{self, Id};
use gatehouse_core::mcp::raw::{self, RawMessage};

/// How long a process may take to exit once its stdin is closed, before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);
/// Longest stderr line logged; the rest of a longer one is dropped.
const STDERR_LINE_LIMIT: usize = 16 * 1024;

type Waiter = oneshot::Sender<Result<RawOutcome, UpstreamError>>;

/// A launched server process.
#[derive(Debug)]
pub(super) struct Process {
    server: ToolName,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    live: Mutex<Live>,
    launched: Instant,
    stop: Notify,
    gone: watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct Live {
    waiting: HashMap<i64, Waiter>,
    /// The relays of waiting requests that want progress, by their progress token.
    relays: HashMap<String, Relaying>,
    /// Set once the process ended or was given up on; no request is accepted after.
    ended: Option<Ended>,
    /// Lines on stdout that were not JSON-RPC, for the story of a failing server.
    unreadable: u64,
}

/// How a process ended.
#[derive(Debug, Clone)]
pub(super) struct Ended {
    pub(super) at: Instant,
    pub(super) uptime: Duration,
    reason: String,
}

impl Process {
    /// Launches `command`, without the `withheld` variables of Gatehouse's environment
    /// unless its own `env` sets them, and the task that supervises it.
    pub(super) fn spawn(
        server: &ToolName,
        command: &StdioCommand,
        withheld: &[String],
        limit: usize,
    ) -> Result<Arc<Self>, UpstreamError> {
        let mut launcher = Command::new(program(command));
        for variable in withheld {
            launcher.env_remove(variable);
        }
        let mut child = launcher
            .args(&command.args)
            .envs(&command.env)
            .current_dir(&command.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                UpstreamError::Unavailable(format!(
                    "cannot launch `{}` for `{server}`: {error}",
                    command.program
                ))
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(UpstreamError::Unavailable(format!(
                "`{server}` was launched without its pipes"
            )));
        };
        let process = Arc::new(Self {
            server: server.clone(),
            stdin: tokio::sync::Mutex::new(Some(stdin)),
            live: Mutex::default(),
            launched: Instant::now(),
            stop: Notify::new(),
            gone: watch::Sender::new(false),
        });
        tracing::info!(%server, pid = child.id(), "MCP server launched");
        tokio::spawn(supervise(
            Arc::clone(&process),
            child,
            stdout,
            stderr,
            limit,
        ));
        Ok(process)
    }

    pub(super) fn alive(&self) -> bool {
        self.live().ended.is_none()
    }

    pub(super) fn ended(&self) -> Option<Ended> {
        self.live().ended.clone()
    }

    /// The handshake on this process. A process that fails it, or whose handshake is
    /// abandoned at a timeout, is of no further use and is stopped, so the next request
    /// starts a fresh one (under back-off) rather than re-initializing a confused one.
    pub(super) async fn handshake(&self, id: i64) -> Result<Handshake, UpstreamError> {
        let mut guard = StopUnlessDone {
            process: self,
            done: false,
        };
        let params = handshake::initialize_params().to_string();
        let outcome = self.call(id, "initialize", &params).await?;
        let agreed = handshake::agree(tree(outcome)?)?;
        let initialized = jsonrpc::notification("notifications/initialized", None);
        self.send(initialized.to_string()).await?;
        guard.done = true;
        Ok(agreed)
    }

    /// Sends request `id` and waits for its response (or the end of the process).
    pub(super) async fn call(
        &self,
        id: i64,
        method: &str,
        params: &str,
    ) -> Result<RawOutcome, UpstreamError> {
        self.call_relaying(id, method, params, None).await
    }

    /// [`Process::call`], relaying the request's progress meanwhile. The waiting entry
    /// and the relay are removed however this ends, a timeout included.
    pub(super) async fn call_relaying(
        &self,
        id: i64,
        method: &str,
        params: &str,
        relaying: Option<Relaying>,
    ) -> Result<RawOutcome, UpstreamError> {
        let (sender, receiver) = oneshot::channel();
        let token = relaying
            .as_ref()
            .and_then(|relaying| relaying.token().map(str::to_owned));
        {
            let mut live = self.live();
            if let Some(ended) = &live.ended {
                return Err(self.ended_error(&ended.reason));
            }
            live.waiting.insert(id, sender);
            if let (Some(token), Some(relaying)) = (&token, relaying) {
                live.relays.insert(token.clone(), relaying);
            }
        }
        let _waiting = Waiting {
            process: self,
            id,
            token,
        };
        self.send(jsonrpc::request_text(&Id::Number(id), method, params))
            .await?;
        receiver.await.unwrap_or_else(|_| {
            Err(UpstreamError::Unavailable(format!(
                "`{}` ended",
                self.server
            )))
        })
    }

    /// Gives up on the process: waiters fail now, and its task closes stdin and, after
    /// a grace period, kills it.
    pub(super) fn stop(&self) {
        self.end("was stopped by Gatehouse".to_owned());
        self.stop.notify_one();
    }

    /// Resolves once the process has exited and was reaped.
    pub(super) async fn gone(&self) {
        let mut gone = self.gone.subscribe();
        let _ = gone.wait_for(|gone| *gone).await;
    }

    /// Writes one message, already serialised (JSON text has no newline), as a line.
    async fn send(&self, message: String) -> Result<(), UpstreamError> {
        let mut line = message.into_bytes();
        line.push(b'\n');
        let mut stdin = self.stdin.lock().await;
        let Some(pipe) = stdin.as_mut() else {
            return Err(self.ended_error("closed its input"));
        };
        let written = async {
            pipe.write_all(&line).await?;
            pipe.flush().await
        };
        if let Err(error) = written.await {
            // A broken pipe means the process is gone even if it is not reaped yet: it
            // ends now, so the next request relaunches rather than reusing a dead one.
            self.end(format!("could not be written to: {error}"));
            return Err(UpstreamError::Unavailable(format!(
                "cannot write to `{}`: {error}",
                self.server
            )));
        }
        Ok(())
    }

    /// Marks the end (once) and fails every waiter with it.
    fn end(&self, reason: String) {
        let (waiting, reason) = {
            let mut live = self.live();
            if live.ended.is_some() {
                return;
            }
            let reason = match live.unreadable {
                0 => reason,
                n => format!("{reason}; it wrote {n} unreadable line(s) on stdout"),
            };
            let at = Instant::now();
            let uptime = at.saturating_duration_since(self.launched);
            live.ended = Some(Ended {
                at,
                uptime,
                reason: reason.clone(),
            });
            (std::mem::take(&mut live.waiting), reason)
        };
        for waiter in waiting.into_values() {
            let _ = waiter.send(Err(self.ended_error(&reason)));
        }
    }

    fn ended_error(&self, reason: &str) -> UpstreamError {
        UpstreamError::Unavailable(format!("`{}` {reason}", self.server))
    }

    fn live(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads stdout until it ends; returns why it ended.
    async fn read(self: &Arc<Self>, stdout: ChildStdout, limit: usize) -> String {
        let mut lines = Lines::new(stdout, limit);
        loop {
            match lines.next().await {
                Ok(Line::Complete(line)) => self.route(&line),
                Ok(Line::Oversize { id }) => self.oversize(id),
                Ok(Line::End) => return "closed its output".to_owned(),
                Err(error) => return format!("could not be read: {error}"),
            }
        }
    }

    fn route(self: &Arc<Self>, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match raw::from_server(line) {
            Ok(RawMessage::Response { id, outcome }) => {
                self.deliver(&id, Ok(outcome));
            }
            Ok(RawMessage::Request { id, method, .. }) => self.reply_to_server(id, &method),
            Ok(RawMessage::Notification { method, params }) => match relay::params(params) {
                Some(params) => self.notified(&method, params),
                None => {
                    self.live().unreadable += 1;
                    tracing::warn!(server = %self.server, %method, "unreadable notification dropped");
                }
            },
            Err(error) => {
                self.live().unreadable += 1;
                let text = String::from_utf8_lossy(line);
                let excerpt: String = text.chars().take(200).collect();
                tracing::warn!(
                    server = %self.server,
                    error = %error.message,
                    line = %excerpt,
                    "stdout line dropped: not a JSON-RPC message"
                );
            }
        }
    }

    /// A notification: progress on a request with a relay goes to it; the rest is dropped.
    fn notified(&self, method: &str, params: Map<String, Value>) {
        let token = params
            .get("progressToken")
            .and_then(Value::as_str)
            .filter(|_| method == "notifications/progress")
            .map(str::to_owned);
        let mut live = self.live();
        match token.and_then(|token| live.relays.get_mut(&token)) {
            Some(relaying) => relaying.offer(method, params),
            None => {
                tracing::debug!(server = %self.server, %method, "server notification not relayed");
            }
        }
    }

    fn deliver(&self, id: &Id, outcome: Result<RawOutcome, UpstreamError>) {
        let waiter = match id {
            Id::Number(number) => self.live().waiting.remove(number),
            Id::Text(_) => None,
        };
        match waiter {
            Some(waiter) => {
                let _ = waiter.send(outcome);
            }
            None => {
                tracing::warn!(server = %self.server, %id, "response to an unknown request id dropped");
            }
        }
    }

    fn oversize(&self, id: Option<i64>) {
        tracing::warn!(server = %self.server, ?id, "stdout line over the response limit dropped");
        if let Some(id) = id {
            self.deliver(&Id::Number(id), Err(UpstreamError::TooLarge));
        }
    }

    /// Answers a request from the server, off the reading task: a server blocked on a
    /// full stdin must not stop us reading its stdout.
    fn reply_to_server(self: &Arc<Self>, id: Id, method: &str) {
        let reply = match handshake::answer(method) {
            Ok(result) => jsonrpc::result(&id, result),
            Err(error) => jsonrpc::error(Some(&id), &error),
        };
        let process = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(error) = process.send(reply.to_string()).await {
                tracing::debug!(server = %process.server, %error, "answer to a server request not delivered");
            }
        });
    }

    fn close_stdin(&self) {
        // A writer holding the pipe is stuck on a full buffer; the kill after the grace
        // period ends it instead.
        if let Ok(mut stdin) = self.stdin.try_lock() {
            stdin.take();
        }
    }
}

/// Removes a request's waiting entry and relay when its caller stops waiting.
struct Waiting<'a> {
    process: &'a Process,
    id: i64,
    token: Option<String>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut live = self.process.live();
        live.waiting.remove(&self.id);
        if let Some(token) = &self.token {
            live.relays.remove(token);
        }
    }
}

/// Stops the process unless the handshake finished.
struct StopUnlessDone<'a> {
    process: &'a Process,
    done: bool,
}

impl Drop for StopUnlessDone<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.process.stop();
        }
    }
}

/// The process's whole life after launch: read until stdout ends or Gatehouse stops it,
/// then close stdin, reap (killing after the grace period) and fail whoever waits.
async fn supervise(
    process: Arc<Process>,
    mut child: Child,
    stdout: ChildStdout,
    stderr: ChildStderr,
    limit: usize,
) {
    tokio::spawn(log_stderr(process.server.clone(), stderr));
    let why = tokio::select! {
        why = process.read(stdout, limit) => why,
        () = process.stop.notified() => "was stopped by Gatehouse".to_owned(),
    };
    process.close_stdin();
    let status = match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            let _ = child.start_kill();
            child.wait().await
        }
    };
    let status = status.map_or_else(
        |error| format!("unknown status: {error}"),
        |s| s.to_string(),
    );
    tracing::info!(server = %process.server, %status, why, "MCP server exited");
    process.end(format!("{why} and exited ({status})"));
    process.gone.send_replace(true);
}

async fn log_stderr(server: ToolName, stderr: ChildStderr) {
    let mut lines = Lines::new(stderr, STDERR_LINE_LIMIT);
    loop {
        match lines.next().await {
            Ok(Line::Complete(line)) => {
                let line = String::from_utf8_lossy(&line);
                tracing::info!(target: "gatehouse::mcp::stderr", server = %server, "{}", line.trim_end());
            }
            Ok(Line::Oversize { .. }) => {
                tracing::info!(
                    target: "gatehouse::mcp::stderr",
                    server = %server,
                    "(a line over {STDERR_LINE_LIMIT} bytes, not logged)"
                );
            }
            Ok(Line::End) | Err(_) => return,
        }
    }
}

/// The program to run. A relative path with a `/` is taken from the server's `cwd`, so
/// it does not depend on how the platform resolves it against a changed directory; a
/// bare name is looked up in `PATH`.
fn program(command: &StdioCommand) -> std::path::PathBuf {
    let program = std::path::Path::new(&command.program);
    if program.is_relative() && command.program.contains('/') {
        command.cwd.join(program)
    } else {
        program.to_path_buf()
    }
}
