//! Console sign-in sessions, held in memory: a random id (the cookie) names the operator,
//! their roles, a per-session CSRF token and an expiry. Nothing here is persisted, so a
//! restart signs everyone out; the operator token itself is never kept.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use gatehouse_core::config::{Operator, Role};
use http::HeaderMap;
use rand::RngCore;
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "gatehouse_session";

/// How long a sign-in lasts: one working day.
pub(crate) const TTL_SECS: i64 = 8 * 60 * 60;

/// Sessions beyond this many evict the one closest to expiry, so memory stays bounded
/// however often someone with a valid token signs in.
const MAX_SESSIONS: usize = 1024;

/// One signed-in operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub(crate) operator: String,
    pub(crate) roles: BTreeSet<Role>,
    /// Must come back in every form that changes something.
    pub(crate) csrf: String,
    /// Unix seconds; at or after this the session is gone.
    pub(crate) expires_at: i64,
}

impl Session {
    pub(crate) fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|role| self.roles.contains(role))
    }

    /// Whether `token` is this session's CSRF token, compared in constant time.
    pub(crate) fn csrf_matches(&self, token: &str) -> bool {
        let (expected, given) = (self.csrf.as_bytes(), token.as_bytes());
        expected.len() == given.len() && bool::from(expected.ct_eq(given))
    }
}

/// Every live console session.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Starts a session for `operator`; returns its id (the cookie value).
    pub(crate) fn create(&self, operator: &Operator, now_secs: i64) -> String {
        let id = random_hex();
        let session = Session {
            operator: operator.name.clone(),
            roles: operator.roles.clone(),
            csrf: random_hex(),
            expires_at: now_secs.saturating_add(TTL_SECS),
        };
        if let Ok(mut sessions) = self.by_id.lock() {
            sessions.retain(|_, session| session.expires_at > now_secs);
            evict_if_full(&mut sessions);
            sessions.insert(id.clone(), session);
        }
        id
    }

    /// The live session `id`; an expired one is removed and not returned.
    pub(crate) fn find(&self, id: &str, now_secs: i64) -> Option<Session> {
        let mut sessions = self.by_id.lock().ok()?;
        let session = sessions.get(id)?.clone();
        if session.expires_at <= now_secs {
            sessions.remove(id);
            return None;
        }
        Some(session)
    }

    /// Ends session `id` (signing out).
    pub(crate) fn end(&self, id: &str) {
        if let Ok(mut sessions) = self.by_id.lock() {
            sessions.remove(id);
        }
    }
}

/// The session id in the request's `Cookie` headers, if any.
pub(crate) fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The `Set-Cookie` value that hands `id` to the browser; `Secure` when the control
/// plane serves TLS, so the browser never sends it over plain HTTP.
pub(crate) fn set_cookie(id: &str, tls: bool) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/console{secure}")
}

/// The `Set-Cookie` value that makes the browser forget the session.
pub(crate) fn clear_cookie(tls: bool) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/console; Max-Age=0{secure}")
}

fn evict_if_full(sessions: &mut HashMap<String, Session>) {
    if sessions.len() < MAX_SESSIONS {
        return;
    }
    let oldest = sessions
        .iter()
        .min_by_key(|(_, session)| session.expires_at)
        .map(|(id, _)| id.clone());
    if let Some(id) = oldest {
        sessions.remove(&id);
    }
}

/// 128 random bits from the OS-seeded generator, as hex.
fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
