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

use crate::revocation::{Revocation, RevocationKind};
use crate::store::{Change, ChangeHandler};

/// The channel every Gatehouse listens on; the payload names what changed.
pub(super) const CHANNEL: &str = "gatehouse_changes";

/// Sent (on commit) by a transaction that changed revocations.
pub(super) const NOTIFY_REVOCATIONS: &str = "SELECT pg_notify('gatehouse_changes', 'revocations')";

/// Sent (on commit) by a transaction that changed quarantines.
pub(super) const NOTIFY_QUARANTINES: &str = "SELECT pg_notify('gatehouse_changes', 'quarantines')";

/// Sent (on commit) by a transaction that changed an approval.
pub(super) const NOTIFY_APPROVALS: &str = "SELECT pg_notify('gatehouse_changes', 'approvals')";

/// The listener's own schema, for telling its store's revocations from others'.
const OWN_SCHEMA: &str = "SELECT coalesce(current_schema(), '')";

/// The payload announcing one revocation (`revocations.rs` sends it): this prefix, the
/// writer's schema (so a store sharing the database under another schema, whose
/// listeners hear it too, does not take it for its own), its kind, its expiry (empty for
/// none), then its subject (`revoked:public:agent::spiffe://acme/agent/a`).
const REVOKED_PREFIX: &str = "revoked:";

/// PostgreSQL refuses payloads of 8000 bytes or more; with the prefix and a schema name
/// (at most 63 bytes), a body up to this long fits. A longer one is announced as a plain
/// change (read again, not said).
const MAX_BODY: usize = 7800;

/// What follows the schema in the announcement of `revocation`; `None` when it would
/// not fit.
pub(super) fn revoked_body(revocation: &Revocation) -> Option<String> {
    let body = format!(
        "{}:{}:{}",
        revocation.kind.as_str(),
        revocation
            .expires_at
            .map(|at| at.to_string())
            .unwrap_or_default(),
        revocation.subject
    );
    (body.len() <= MAX_BODY).then_some(body)
}

/// The change a payload announces to a listener on `schema`; `None` for one this version
/// does not know (a newer replica's), which is ignored. A revocation of another schema's
/// store, or a malformed one, reads as revocations changed: read again, never lost.
fn change_of(payload: &str, schema: &str) -> Option<Change> {
    Some(match payload {
        "revocations" => Change::Revocations,
        "quarantines" => Change::Quarantines,
        "policy" => Change::Policy,
        "approvals" => Change::Approvals,
        _ => {
            if let Some(revoked) = payload.strip_prefix(REVOKED_PREFIX) {
                let own = revoked
                    .strip_prefix(schema)
                    .and_then(|rest| rest.strip_prefix(':'));
                return Some(own.and_then(revoked_change).unwrap_or(Change::Revocations));
            }
            Change::Workflow(payload.strip_prefix(WORKFLOW_PREFIX)?.to_owned())
        }
    })
}

/// `<kind>:<expires_at>:<subject>`; the subject may itself hold colons.
fn revoked_change(text: &str) -> Option<Change> {
    let (kind, rest) = text.split_once(':')?;
    let (expires_at, subject) = rest.split_once(':')?;
    let expires_at = match expires_at {
        "" => None,
        at => Some(at.parse().ok()?),
    };
    Some(Change::Revoked {
        kind: RevocationKind::parse(kind)?,
        subject: subject.to_owned(),
        expires_at,
    })
}

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
            Ok((mut client, schema)) => {
                backoff.reset();
                // Whatever changed while nobody listened is only found by reading again.
                if !first {
                    handler(Change::Resync);
                }
                first = false;
                handler(Change::Connected);
                let lost = relay(&mut client, &schema, handler, stop);
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

/// A connection listening, and its schema.
fn listening(config: &Config) -> Result<(Client, String), postgres::Error> {
    let mut client = config.connect(NoTls)?;
    let schema: String = client.query_one(OWN_SCHEMA, &[])?.try_get(0)?;
    // Last, so `pg_stat_activity` shows the listener's connection by its `LISTEN`.
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    Ok((client, schema))
}

/// Passes each notification on until the connection fails or `stop` is set.
fn relay(
    client: &mut Client,
    schema: &str,
    handler: &ChangeHandler,
    stop: &AtomicBool,
) -> Result<(), postgres::Error> {
    while !stop.load(Ordering::Acquire) {
        {
            let mut notifications = client.notifications();
            let mut batch = notifications.timeout_iter(POLL);
            while let Some(notification) = batch.next()? {
                if let Some(change) = change_of(notification.payload(), schema) {
                    handler(change);
                }
            }
        }
        if client.is_closed() {
            return client.simple_query("SELECT 1").map(drop);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revocation(kind: RevocationKind, subject: &str) -> Revocation {
        Revocation {
            kind,
            subject: subject.to_owned(),
            at_ms: 1,
            by: "alice".to_owned(),
            reason: "test".to_owned(),
            expires_at: Some(1_700_000_000),
        }
    }

    /// The payload `revocations.rs` sends from a store on `schema`.
    fn payload(schema: &str, revocation: &Revocation) -> String {
        let body = revoked_body(revocation).unwrap();
        format!("{REVOKED_PREFIX}{schema}:{body}")
    }

    #[test]
    fn a_revocation_is_said_in_its_announcement_colons_and_all() {
        let agent = revocation(RevocationKind::Agent, "spiffe://acme/agent/a:b");
        assert_eq!(
            change_of(&payload("s1", &agent), "s1"),
            Some(Change::Revoked {
                kind: RevocationKind::Agent,
                subject: "spiffe://acme/agent/a:b".to_owned(),
                expires_at: Some(1_700_000_000),
            })
        );
        let forever = Revocation {
            expires_at: None,
            ..revocation(RevocationKind::Token, "j1")
        };
        assert_eq!(
            change_of(&payload("", &forever), ""),
            Some(Change::Revoked {
                kind: RevocationKind::Token,
                subject: "j1".to_owned(),
                expires_at: None,
            })
        );
    }

    #[test]
    fn another_schemas_revocation_is_only_a_reason_to_read_again() {
        let agent = revocation(RevocationKind::Agent, "spiffe://acme/agent/a");
        for listener in ["s2", "s", "s1x", ""] {
            assert_eq!(
                change_of(&payload("s1", &agent), listener),
                Some(Change::Revocations),
                "{listener}"
            );
        }
    }

    #[test]
    fn a_revocation_too_long_to_say_or_said_wrong_is_read_again() {
        let long = revocation(RevocationKind::Token, &"x".repeat(MAX_BODY));
        assert_eq!(revoked_body(&long), None);
        for payload in [
            "revoked:s1",
            "revoked:s1:",
            "revoked:s1:token",
            "revoked:s1:token:soon:j",
            "revoked:s1:who:1:j",
        ] {
            assert_eq!(
                change_of(payload, "s1"),
                Some(Change::Revocations),
                "{payload}"
            );
        }
        assert_eq!(change_of("something new", "s1"), None);
        assert_eq!(
            change_of("workflow:wf-1", "s1"),
            Some(Change::Workflow("wf-1".to_owned()))
        );
    }
}
