//! Certificate reload: the files' size and modification time are compared once a second
//! (one `stat` each, off the request path); when they change the pair is loaded again and
//! swapped in for new handshakes. A pair that does not load leaves the old one in place,
//! logged and recorded as an event, and is tried again when the files change again.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use gatehouse_core::config::ListenerTls;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::sync::watch as signal;

use crate::tls::{Tls, certified_key};

/// How often the certificate files are looked at.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What the certificate and key files looked like when last loaded (or tried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fingerprint([Option<(SystemTime, u64)>; 2]);

impl Fingerprint {
    pub(super) fn of(files: &ListenerTls) -> Self {
        let stat = |path: &std::path::Path| {
            let meta = std::fs::metadata(path).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        };
        Self([stat(&files.cert_file), stat(&files.key_file)])
    }
}

/// The pair new handshakes present, swapped whole on reload.
#[derive(Debug)]
pub(super) struct CurrentCert {
    key: RwLock<Arc<CertifiedKey>>,
    seen: RwLock<Fingerprint>,
}

impl CurrentCert {
    pub(super) fn new(key: CertifiedKey, seen: Fingerprint) -> Self {
        Self {
            key: RwLock::new(Arc::new(key)),
            seen: RwLock::new(seen),
        }
    }
}

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.key.read().ok().map(|key| Arc::clone(&key))
    }
}

/// What one look at a listener's files found.
#[derive(Debug)]
enum Change {
    Reloaded,
    Broken(String),
}

impl Tls {
    /// Loads the pair again if its files changed since they were last looked at.
    fn reload_if_changed(&self) -> Option<Change> {
        let now = Fingerprint::of(&self.files);
        let mut seen = self.current.seen.write().ok()?;
        if *seen == now {
            return None;
        }
        *seen = now;
        drop(seen);
        let files = &self.files;
        Some(
            match certified_key(&files.cert_file, &files.key_file, &self.provider) {
                Ok(key) => {
                    if let Ok(mut current) = self.current.key.write() {
                        *current = Arc::new(key);
                    }
                    Change::Reloaded
                }
                Err(error) => Change::Broken(error.to_string()),
            },
        )
    }
}

/// Watches every TLS listener's files until `stop` turns true.
/// `record` gets each change as an event's intent and detail (the composition root
/// records them as audit events; this module stays below the state).
pub(crate) async fn watch(
    listeners: Vec<Arc<Tls>>,
    record: impl Fn(&'static str, String) + Send,
    mut stop: signal::Receiver<bool>,
) {
    if listeners.is_empty() {
        return;
    }
    let mut every = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {
                for tls in &listeners {
                    if let Some(change) = tls.reload_if_changed() {
                        let (intent, detail) = report(tls, change);
                        record(intent, detail);
                    }
                }
            }
            _ = stop.changed() => break,
        }
    }
}

fn report(tls: &Tls, change: Change) -> (&'static str, String) {
    let cert = tls.files.cert_file.display();
    let (intent, detail) = match change {
        Change::Reloaded => {
            tracing::info!(listener = tls.listener, %cert, "TLS certificate reloaded");
            (
                "tls.reload",
                format!("{} listener: certificate `{cert}` reloaded", tls.listener),
            )
        }
        Change::Broken(why) => {
            tracing::error!(listener = tls.listener, %cert, %why, "TLS certificate not reloaded; the previous one stays in use");
            (
                "tls.reload_failed",
                format!(
                    "{} listener: the previous certificate stays in use: {why}",
                    tls.listener
                ),
            )
        }
    };
    (intent, detail)
}
