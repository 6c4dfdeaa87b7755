//! Revoked credentials and agents, held in memory and checked on every request; loaded
//! from the store at start and written through on change. A change bumps an epoch that
//! in-flight calls watch, so revocation also cuts responses already streaming.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use gatehouse_store::{Revocation, RevocationKind};
use tokio::sync::watch;

/// The in-memory revocation state.
#[derive(Debug)]
pub struct Revocations {
    /// Revoked credential ids, with when they would have expired anyway.
    tokens: RwLock<HashMap<String, i64>>,
    agents: RwLock<HashSet<String>>,
    epoch: watch::Sender<u64>,
}

impl Revocations {
    pub fn new(stored: Vec<Revocation>) -> Self {
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
        Self {
            tokens: RwLock::new(tokens),
            agents: RwLock::new(agents),
            epoch: watch::Sender::new(0),
        }
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
        self.tokens
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(jti.to_owned(), expires_at);
        self.bump();
    }

    pub fn revoke_agent(&self, agent: &str) {
        self.agents
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(agent.to_owned());
        self.bump();
    }

    /// Returns whether the agent was revoked.
    pub fn reinstate_agent(&self, agent: &str) -> bool {
        let removed = self
            .agents
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(agent);
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

    /// Changes whenever anything is revoked.
    pub fn epoch(&self) -> watch::Receiver<u64> {
        self.epoch.subscribe()
    }

    fn bump(&self) {
        self.epoch
            .send_modify(|epoch| *epoch = epoch.wrapping_add(1));
    }
}
