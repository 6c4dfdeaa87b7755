//! Revoked credentials and agents, held in memory and checked on every request; loaded
//! from the store at start and written through on change. A change bumps an epoch that
//! in-flight calls watch, so revocation also cuts responses already streaming.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use gatehouse_core::clock::SharedClock;
use gatehouse_store::{Revocation, RevocationKind};
use tokio::sync::watch;

use crate::quarantines::Quarantines;

/// What cuts a call in flight (`pipeline/cancel.rs`): revocations of its credential or
/// agent, a quarantine covering it (by the clock quarantines end by), and shutdown.
/// Built once over the state's own parts; a call's cancellation holds one reference.
#[derive(Debug)]
pub struct Cuts {
    pub revocations: Arc<Revocations>,
    pub quarantines: Arc<Quarantines>,
    pub clock: SharedClock,
    /// Turns true when shutdown stops waiting for calls in flight.
    pub stopping: watch::Receiver<bool>,
}

/// The in-memory revocation state.
#[derive(Debug)]
pub struct Revocations {
    /// Revoked credential ids, with when they would have expired anyway.
    tokens: RwLock<HashMap<String, i64>>,
    agents: RwLock<HashSet<String>>,
    epoch: watch::Sender<u64>,
    /// Counts revocations and reinstatements made here, moved under the lock they take:
    /// a re-read of the store taken before one must not undo it (see [`replace`](Self::replace)).
    changes: AtomicU64,
}

impl Revocations {
    pub fn new(stored: Vec<Revocation>) -> Self {
        let (tokens, agents) = Self::sets(stored);
        Self {
            tokens: RwLock::new(tokens),
            agents: RwLock::new(agents),
            epoch: watch::Sender::new(0),
            changes: AtomicU64::new(0),
        }
    }

    /// How many revocations and reinstatements were made here so far.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// Takes the stored revocations as the whole truth (another replica changed them),
    /// cutting in-flight calls when anything changed, unless a change was made here
    /// since [`changes`](Self::changes) answered `seen` before the store was read: that
    /// read may predate the change's write and would undo it. `false`: read again.
    pub fn replace(&self, stored: Vec<Revocation>, seen: u64) -> bool {
        let (tokens, agents) = Self::sets(stored);
        let mut held_tokens = self
            .tokens
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut held_agents = self
            .agents
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.changes() != seen {
            return false;
        }
        let changed = *held_tokens != tokens || *held_agents != agents;
        *held_tokens = tokens;
        *held_agents = agents;
        drop((held_tokens, held_agents));
        if changed {
            self.bump();
        }
        true
    }

    /// Token and agent revocations as the sets checked on every call.
    fn sets(stored: Vec<Revocation>) -> (HashMap<String, i64>, HashSet<String>) {
        let mut tokens = HashMap::new();
        let mut agents = HashSet::new();
        for revocation in stored {
            match revocation.kind {
                RevocationKind::Token => {
                    tokens.insert(
                        revocation.subject,
                        revocation.expires_at.unwrap_or(i64::MAX),
                    );
                }
                RevocationKind::Agent => {
                    agents.insert(revocation.subject);
                }
                // A revoked workflow is an ended workflow; its state says so.
                RevocationKind::Workflow => {}
            }
        }
        (tokens, agents)
    }

    pub fn is_token_revoked(&self, jti: &str) -> bool {
        self.tokens
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains_key(jti)
    }

    pub fn is_agent_revoked(&self, agent: &str) -> bool {
        self.agents
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(agent)
    }

    pub fn revoke_token(&self, jti: &str, expires_at: i64) {
        let mut tokens = self
            .tokens
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tokens.insert(jti.to_owned(), expires_at);
        self.changes.fetch_add(1, Ordering::AcqRel);
        drop(tokens);
        self.bump();
    }

    pub fn revoke_agent(&self, agent: &str) {
        let mut agents = self
            .agents
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        agents.insert(agent.to_owned());
        self.changes.fetch_add(1, Ordering::AcqRel);
        drop(agents);
        self.bump();
    }

    /// Returns whether the agent was revoked.
    pub fn reinstate_agent(&self, agent: &str) -> bool {
        let mut agents = self
            .agents
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let removed = agents.remove(agent);
        self.changes.fetch_add(1, Ordering::AcqRel);
        drop(agents);
        self.bump();
        removed
    }

    /// Forgets token revocations of credentials that have expired anyway.
    pub fn forget_expired(&self, now_secs: i64) {
        self.tokens
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|_, expires_at| *expires_at > now_secs);
    }

    /// How many credentials and agents are revoked, for the metrics.
    pub fn counts(&self) -> (usize, usize) {
        let tokens = self
            .tokens
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len();
        let agents = self
            .agents
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len();
        (tokens, agents)
    }

    /// Changes whenever anything is revoked.
    pub fn epoch(&self) -> watch::Receiver<u64> {
        self.epoch.subscribe()
    }

    fn bump(&self) {
        self.epoch
            .send_modify(|epoch| *epoch = epoch.wrapping_add(1));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        RevokeToken(u8, i64),
        RevokeAgent(u8),
        Reinstate(u8),
        Forget(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..6, 0i64..100).prop_map(|(jti, exp)| Op::RevokeToken(jti, exp)),
            (0u8..4).prop_map(Op::RevokeAgent),
            (0u8..4).prop_map(Op::Reinstate),
            (0i64..100).prop_map(Op::Forget),
        ]
    }

    proptest! {
        /// Against a model: a revoked credential stays refused until it would have
        /// expired anyway; an agent stays revoked until reinstated; every change moves
        /// the epoch that in-flight calls watch.
        #[test]
        fn revocations_match_the_model(ops in proptest::collection::vec(op(), 1..60)) {
            let revocations = Revocations::new(Vec::new());
            let mut tokens: HashMap<String, i64> = HashMap::new();
            let mut agents: HashSet<String> = HashSet::new();
            let epoch = revocations.epoch();
            let mut last_epoch = *epoch.borrow();
            for op in ops {
                let changes = !matches!(op, Op::Forget(_));
                match op {
                    Op::RevokeToken(jti, exp) => {
                        revocations.revoke_token(&jti.to_string(), exp);
                        tokens.insert(jti.to_string(), exp);
                    }
                    Op::RevokeAgent(agent) => {
                        revocations.revoke_agent(&agent.to_string());
                        agents.insert(agent.to_string());
                    }
                    Op::Reinstate(agent) => {
                        let was = agents.remove(&agent.to_string());
                        prop_assert_eq!(revocations.reinstate_agent(&agent.to_string()), was);
                    }
                    Op::Forget(now) => {
                        revocations.forget_expired(now);
                        tokens.retain(|_, exp| *exp > now);
                    }
                }
                let now_epoch = *epoch.borrow();
                prop_assert_eq!(now_epoch != last_epoch, changes);
                last_epoch = now_epoch;
                for id in 0u8..6 {
                    prop_assert_eq!(revocations.is_token_revoked(&id.to_string()), tokens.contains_key(&id.to_string()));
                }
                for id in 0u8..4 {
                    prop_assert_eq!(revocations.is_agent_revoked(&id.to_string()), agents.contains(&id.to_string()));
                }
            }
        }
    }

    #[test]
    fn a_re_read_taken_before_a_revocation_here_does_not_undo_it() {
        let revocations = Revocations::new(Vec::new());
        let seen = revocations.changes();
        revocations.revoke_token("jti-1", i64::MAX);
        revocations.revoke_agent("bot");
        assert!(!revocations.replace(Vec::new(), seen));
        assert!(revocations.is_token_revoked("jti-1"));
        assert!(revocations.is_agent_revoked("bot"));
        assert!(revocations.replace(Vec::new(), revocations.changes()));
        assert!(!revocations.is_token_revoked("jti-1"));
    }
}
