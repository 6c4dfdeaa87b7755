//! Change notification between replicas (ARCHITECTURE.md, "State and events"): a writer of shared state that
//! every replica holds in memory (revocations, quarantines, workflows, the policy set) or
//! waits on (approvals) notifies in the writing transaction, and
//! each replica's listener thread tells the gateway, which reads the state again. After
//! a lost connection the listener reconnects and asks for a full catch-up read, since
//! notifications sent meanwhile are gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gatehouse_core::backoff::Backoff;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls};

use crate::store::{Change, ChangeHandler};

/// The channel every Gatehouse listens on; the payload names what changed.
pub(super) const CHANNEL: &str = "gatehouse_changes";

/// Sent (on commit) by a transaction that changed revocations.
pub(super) const NOTIFY_REVOCATIONS: &str = "SELECT pg_notify('gatehouse_changes', 'revocations')";

/// Sent (on commit) by a transaction that changed quarantines.
pub(super) const NOTIFY_QUARANTINES: &str = "SELECT pg_notify('gatehouse_changes', 'quarantines')";

/// Sent (on commit) by a transaction that shared a policy set.
pub(super) const NOTIFY_POLICY: &str = "SELECT pg_notify('gatehouse_changes', 'policy')";

/// Sent (on commit) by a transaction that changed an approval.
pub(super) const NOTIFY_APPROVALS: &str = "SELECT pg_notify('gatehouse_changes', 'approvals')";

/// The payload announcing that one workflow ended: this prefix, then its id.
pub(super) const WORKFLOW_PREFIX: &str = "workflow:";

/// Announces a workflow's end (on commit); the payload is `workflow:` and its id.
pub(super) const NOTIFY_WORKFLOW: &str = "SELECT pg_notify('gatehouse_changes', 'workflow:' || $1)";

/// How long the listener waits for a notification before checking whether to stop.
const POLL: Duration = Duration::from_millis(250);
/// The longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Runs until `stop` is set: listens, reports changes, reconnects after failures.
pub(super) fn spawn(
    config: Config,
    handler: ChangeHandler,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("gatehouse-pg-listen".to_owned())
        .spawn(move || run(&config, &handler, &stop))
        .map(drop)
}

fn run(config: &Config, handler: &ChangeHandler, stop: &AtomicBool) {
    let mut backoff = Backoff::new(Duration::from_millis(50), MAX_BACKOFF);
    let mut first = true;
    while !stop.load(Ordering::Acquire) {
        match listening(config) {
            Ok(mut client) => {
                backoff.reset();
                // Whatever changed while nobody listened is only found by reading again.
                if !first {
                    handler(Change::Resync);
                }
                first = false;
                handler(Change::Connected);
                let lost = relay(&mut client, handler, stop);
                if let Err(error) = lost {
                    handler(Change::Lost(error.to_string()));
                }
            }
            Err(error) => {
                handler(Change::Lost(error.to_string()));
                std::thread::sleep(backoff.next_delay());
            }
        }
    }
}

fn listening(config: &Config) -> Result<Client, postgres::Error> {
    let mut client = config.connect(NoTls)?;
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    Ok(client)
}

/// Passes each notification on until the connection fails or `stop` is set.
fn relay(
    client: &mut Client,
    handler: &ChangeHandler,
    stop: &AtomicBool,
) -> Result<(), postgres::Error> {
    while !stop.load(Ordering::Acquire) {
        {
            let mut notifications = client.notifications();
            let mut batch = notifications.timeout_iter(POLL);
            while let Some(notification) = batch.next()? {
                match notification.payload() {
                    "revocations" => handler(Change::Revocations),
                    "quarantines" => handler(Change::Quarantines),
                    "policy" => handler(Change::Policy),
                    "approvals" => handler(Change::Approvals),
                    payload => {
                        if let Some(id) = payload.strip_prefix(WORKFLOW_PREFIX) {
                            handler(Change::Workflow(id.to_owned()));
                        }
                    }
                }
            }
        }
        if client.is_closed() {
            return client.simple_query("SELECT 1").map(drop);
        }
    }
    Ok(())
}
