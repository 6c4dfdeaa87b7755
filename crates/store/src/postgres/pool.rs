//! A few connections to PostgreSQL, each used by one caller at a time. A connection the
//! database or the network closed is replaced on its next use, so the store recovers by
//! itself after a database restart; the failed operation itself reports unavailable.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use postgres::{Client, Config, NoTls};

use super::Failure;
use crate::error::StoreError;

/// How long a connection attempt may take before the store reports unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct Pool {
    config: Config,
    location: String,
    /// Never empty: the first connection, then the others.
    first: Mutex<Option<Client>>,
    others: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("location", &self.location)
            .field("connections", &self.size())
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// Parses `url` and connects once, so a wrong address fails at start-up.
    pub(super) fn new(url: &str, size: usize) -> Result<Self, StoreError> {
        let mut config: Config = url.parse().map_err(|error| StoreError::Unavailable {
            location: "postgres".to_owned(),
            detail: format!("not a PostgreSQL connection string: {error}"),
        })?;
        if config.get_application_name().is_none() {
            // Operators see Gatehouse's connections by name in `pg_stat_activity`.
            config.application_name("gatehouse");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let location = describe(&config);
        let pool = Self {
            config,
            location,
            first: Mutex::new(None),
            others: (1..size).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        };
        pool.with(|_| Ok(()))
            .map_err(|error| error.at(&pool.location))?;
        Ok(pool)
    }

    /// The connection settings, for a connection of another use (the listener).
    pub(super) fn config(&self) -> &Config {
        &self.config
    }

    /// Host, port and database, never the password.
    pub(super) fn location(&self) -> &str {
        &self.location
    }

    /// Runs `work` on a free connection (or waits for one), connecting first if needed.
    /// A connection left closed by a failure is dropped, so the next use reconnects.
    ///
    /// The work runs on a short-lived thread of its own while the caller waits: the
    /// synchronous client drives a runtime of its own, which refuses to start on a thread
    /// that already drives one, and callers (an async worker that must block briefly, as
    /// with the embedded store) cannot always avoid that. A thread costs tens of
    /// microseconds, small beside a database round trip.
    ///
    /// A caller that said it is off the async workers ([`off_async_workers`]: the
    /// gateway's blocking-pool calls, the listener) runs the work in place, saving the
    /// thread and the two hand-overs between threads, which a loaded machine makes slow.
    pub(super) fn with<T: Send>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<T, Failure> + Send,
    ) -> Result<T, Failure> {
        let mut slot = self.slot();
        let held: &mut Option<Client> = &mut slot;
        let config = &self.config;
        if OFF_ASYNC_WORKERS.get() {
            return run(config, held, work);
        }
        std::thread::scope(|scope| {
            scope
                .spawn(move || run(config, held, work))
                .join()
                .unwrap_or_else(|_| Err(Failure::invalid("a store operation panicked")))
        })
    }

    /// A free slot if there is one, else the next one in turn (waiting for it).
    fn slot(&self) -> MutexGuard<'_, Option<Client>> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let size = self.size();
        for offset in 0..size {
            if let Ok(guard) = self.nth((start + offset) % size).try_lock() {
                return guard;
            }
        }
        self.nth(start % size)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn size(&self) -> usize {
        self.others.len() + 1
    }

    fn nth(&self, index: usize) -> &Mutex<Option<Client>> {
        match index.checked_sub(1) {
            Some(other) => self.others.get(other).unwrap_or(&self.first),
            None => &self.first,
        }
    }
}

thread_local! {
    /// Set while this thread runs a caller's store work off the async workers.
    static OFF_ASYNC_WORKERS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work`, which calls the store, telling the PostgreSQL store that this thread
/// drives no async runtime (a `spawn_blocking` thread, or a thread of its own), so it may
/// use its synchronous client right here. Never wrap work running on an async worker:
/// the client would start its runtime inside the worker's and panic.
pub fn off_async_workers<T>(work: impl FnOnce() -> T) -> T {
    let _marked = Marked(OFF_ASYNC_WORKERS.replace(true));
    work()
}

/// Puts the mark back as it was, however `work` ends.
struct Marked(bool);

impl Drop for Marked {
    fn drop(&mut self) {
        OFF_ASYNC_WORKERS.set(self.0);
    }
}

/// One operation on the slot's connection (a new one if it has none, or a closed one).
fn run<T>(
    config: &Config,
    slot: &mut Option<Client>,
    work: impl FnOnce(&mut Client) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let mut client = match slot.take() {
        Some(client) if !client.is_closed() => client,
        _ => config.connect(NoTls)?,
    };
    let result = work(&mut client);
    if !client.is_closed() {
        *slot = Some(client);
    }
    result
}

impl Drop for Pool {
    /// Closing a client runs the client's own little runtime, which must not happen on
    /// an async worker (the last store handle may well be dropped on one): the clients
    /// are closed on a thread of their own.
    fn drop(&mut self) {
        let mut clients: Vec<Client> = Vec::new();
        for slot in std::iter::once(&mut self.first).chain(self.others.iter_mut()) {
            let slot = slot
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            clients.extend(slot.take());
        }
        if clients.is_empty() {
            return;
        }
        let closing = std::thread::spawn(move || drop(clients));
        let _ = closing.join();
    }
}

fn describe(config: &Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|host| match host {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config.get_dbname().unwrap_or("postgres");
    format!("postgres://{host}:{port}/{database}")
}
