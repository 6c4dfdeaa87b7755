//! Task credentials: minted by the broker, verified on every data-plane call.
//!
//! Verification is cached by token text: a token that verified once verifies again, so the
//! cache only skips the signature check; expiry is checked on every use.

use std::collections::hash_map::{DefaultHasher, RandomState};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use gatehouse_core::clock::UnixTime;
use gatehouse_core::config::Agent;
use gatehouse_core::model::{AgentId, Intent, SegmentName, TaskClassName, WorkflowId};
use gatehouse_core::refusal::AuthFailure;
use gatehouse_core::token::{self, TASK_TOKEN_TYP, TaskClaims, TimeClaims};

use crate::keys::KeyRing;

/// Most verified credentials remembered; the cache is cleared when full.
const CACHE_CAPACITY: usize = 65_536;

/// A verified task credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub claims: TaskClaims,
    pub segment: SegmentName,
    /// `claims.sub` as the agent id policy decides on.
    pub agent: AgentId,
    /// `claims.wf` and `claims.tc` as names, made once per verified credential so that
    /// each call's event shares them instead of copying their text.
    pub workflow: WorkflowId,
    pub task_class: TaskClassName,
    /// Sorted for `binary_search`.
    scope: Vec<Intent>,
}

impl Credential {
    fn new(claims: TaskClaims, segment: SegmentName) -> Self {
        let mut scope: Vec<Intent> = claims
            .scope
            .iter()
            .map(|intent| Intent::new(intent.as_str()))
            .collect();
        scope.sort();
        Self {
            agent: AgentId::new(claims.sub.as_str()),
            workflow: WorkflowId::new(claims.wf.as_str()),
            task_class: TaskClassName::new(claims.tc.as_str()),
            claims,
            segment,
            scope,
        }
    }

    pub fn allows(&self, intent: &Intent) -> bool {
        self.scope.binary_search(intent).is_ok()
    }
}

/// Verified credentials by token text.
#[derive(Debug)]
pub struct CredentialCache {
    entries: RwLock<HashMap<Box<str>, Arc<Credential>, TailHash>>,
}

impl Default for CredentialCache {
    fn default() -> Self {
        // Sized for its limit at once: growing rehashes every entry.
        let entries = HashMap::with_capacity_and_hasher(CACHE_CAPACITY, TailHash::default());
        Self {
            entries: RwLock::new(entries),
        }
    }
}

fn evict(entries: &mut HashMap<Box<str>, Arc<Credential>, TailHash>, now_secs: i64) {
    entries.retain(|_, credential| credential.claims.exp > now_secs);
    let room = CACHE_CAPACITY / 8;
    let excess = (entries.len() + room).saturating_sub(CACHE_CAPACITY);
    if excess > 0 {
        let doomed: Vec<Box<str>> = entries.keys().take(excess).cloned().collect();
        for token in doomed {
            entries.remove(&token);
        }
    }
}

/// Hashes only the end of a token — its signature, unpredictable for every token this
/// gateway minted — with a randomly keyed SipHash: the whole text (several hundred
/// bytes) would be hashed on every call. Equality still compares the whole text.
#[derive(Debug, Clone, Default)]
struct TailHash(RandomState);

/// Bytes of a token's end that are hashed: 192 bits of its signature's encoding.
const HASHED_TAIL: usize = 32;

impl BuildHasher for TailHash {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

#[derive(Debug)]
struct TailHasher(DefaultHasher);

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        let start = bytes.len().saturating_sub(HASHED_TAIL);
        self.0.write(bytes.get(start..).unwrap_or(bytes));
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

impl CredentialCache {
    fn lookup(&self, token: &str) -> Option<Arc<Credential>> {
        let entries = self.entries.read().ok()?;
        entries.get(token).cloned()
    }

    /// Caches a verified credential. When full, expired credentials go first; if that
    /// frees less than an eighth, an eighth of the live ones go too (in hash order, which
    /// no caller controls): a miss only costs a signature check again, and evicting in
    /// bulk keeps the sweep off most inserts. Clearing everything instead would make every
    /// agent pay that check at once.
    fn remember(&self, token: &str, credential: Arc<Credential>, now_secs: i64) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= CACHE_CAPACITY {
            evict(&mut entries, now_secs);
        }
        entries.insert(token.into(), credential);
    }
}

/// Phase 1 helper: the bearer token of an `Authorization` header value.
pub fn bearer(header: Option<&http::HeaderValue>) -> Result<&str, AuthFailure> {
    let value = header.ok_or(AuthFailure::Missing)?;
    let text = value.to_str().map_err(|_| AuthFailure::Malformed)?;
    let (scheme, token) = text.split_once(' ').ok_or(AuthFailure::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthFailure::Malformed);
    }
    Ok(token.trim())
}

/// What verifying a task credential reads: the segment keys, the cache of verified
/// credentials, the audience Gatehouse mints for, the registered agents, and the time.
#[derive(Debug, Clone, Copy)]
pub struct Verifier<'a> {
    pub keys: &'a KeyRing,
    pub cache: &'a CredentialCache,
    pub audience: &'a str,
    pub agents: &'a BTreeMap<AgentId, Agent>,
    pub now: UnixTime,
}

/// Verifies a task credential: cached signature, then expiry and registration on every use.
pub fn verify(verifier: Verifier<'_>, token: &str) -> Result<Arc<Credential>, AuthFailure> {
    let now = verifier.now;
    let credential = match verifier.cache.lookup(token) {
        Some(credential) => credential,
        None => {
            let credential = Arc::new(verify_signature(verifier, token)?);
            verifier
                .cache
                .remember(token, Arc::clone(&credential), now.secs());
            credential
        }
    };
    check_still_valid(verifier, &credential, now)?;
    Ok(credential)
}

fn verify_signature(verifier: Verifier<'_>, token: &str) -> Result<Credential, AuthFailure> {
    let now = verifier.now;
    let jwt = token::decode(token)?;
    if jwt.header().typ.as_deref() != Some(TASK_TOKEN_TYP) {
        return Err(AuthFailure::WrongTokenType);
    }
    let kid = jwt.header().kid.as_deref().ok_or(AuthFailure::UnknownKey)?;
    let key = verifier
        .keys
        .verifying(kid, now.secs())
        .ok_or(AuthFailure::UnknownKey)?;
    // Gatehouse signed it, if it is genuine: checked by signing again (see `verify_own`).
    jwt.verify_own(&key.signing)?;
    let claims: TaskClaims = jwt.claims()?;
    let audience = verifier.audience;
    if claims.aud != *audience || claims.iss != *audience {
        return Err(AuthFailure::WrongAudience);
    }
    // The segment claim must name the key's own segment: the key is the binding.
    if claims.seg != key.segment.as_str() {
        return Err(AuthFailure::BadSignature);
    }
    check_times(&claims, now)?;
    Ok(Credential::new(claims, key.segment.clone()))
}

fn check_still_valid(
    verifier: Verifier<'_>,
    credential: &Credential,
    now: UnixTime,
) -> Result<(), AuthFailure> {
    check_times(&credential.claims, now)?;
    if !verifier.agents.contains_key(credential.claims.sub.as_str()) {
        return Err(AuthFailure::UnknownAgent);
    }
    Ok(())
}

fn check_times(claims: &TaskClaims, now: UnixTime) -> Result<(), AuthFailure> {
    let times = TimeClaims {
        iat: Some(claims.iat),
        nbf: None,
        exp: claims.exp,
    };
    // Gatehouse minted it on its own clock: no leeway, and no lifetime cap beyond the
    // task class TTL it was minted with.
    token::check_times(&times, now, 0, None::<Duration>)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(agent: &str) -> Arc<Credential> {
        let claims = TaskClaims {
            iss: "gatehouse".to_owned(),
            sub: agent.to_owned(),
            aud: "gatehouse".to_owned(),
            iat: 0,
            exp: 60,
            jti: "j".to_owned(),
            wf: "wf".to_owned(),
            tc: "tc".to_owned(),
            seg: "data".to_owned(),
            scope: vec!["b".to_owned(), "a".to_owned()],
        };
        Arc::new(Credential::new(claims, SegmentName::new("data")))
    }

    #[test]
    fn tokens_with_the_same_end_are_told_apart_by_their_whole_text() {
        let cache = CredentialCache::default();
        let tail = "x".repeat(HASHED_TAIL * 2);
        let (first, second) = (format!("a.{tail}"), format!("b.{tail}"));
        cache.remember(&first, credential("first"), 0);
        assert!(cache.lookup(&second).is_none());
        cache.remember(&second, credential("second"), 0);
        let found = |token: &str| cache.lookup(token).map(|c| c.claims.sub.clone());
        assert_eq!(found(&first).as_deref(), Some("first"));
        assert_eq!(found(&second).as_deref(), Some("second"));
        assert!(found("short").is_none());
    }

    fn with_expiry(exp: i64) -> Arc<Credential> {
        let mut credential = (*credential("agent")).clone();
        credential.claims.exp = exp;
        Arc::new(credential)
    }

    #[test]
    fn a_full_cache_evicts_expired_credentials_first_and_never_empties() {
        let cache = CredentialCache::default();
        for index in 0..CACHE_CAPACITY {
            // Every other one expired at second 100.
            let exp = if index % 2 == 0 { 100 } else { 1_000 };
            cache.remember(&format!("token-{index}"), with_expiry(exp), 0);
        }
        cache.remember("newcomer", with_expiry(1_000), 500);
        let len = cache
            .entries
            .read()
            .map(|entries| entries.len())
            .unwrap_or(0);
        assert_eq!(len, CACHE_CAPACITY / 2 + 1, "only the expired half went");
        assert!(cache.lookup("token-1").is_some(), "live ones stay");
        assert!(cache.lookup("token-0").is_none());
        assert!(cache.lookup("newcomer").is_some());
    }

    #[test]
    fn a_cache_full_of_live_credentials_evicts_an_eighth() {
        let cache = CredentialCache::default();
        for index in 0..CACHE_CAPACITY {
            cache.remember(&format!("token-{index}"), with_expiry(1_000), 0);
        }
        cache.remember("newcomer", with_expiry(1_000), 0);
        let len = cache
            .entries
            .read()
            .map(|entries| entries.len())
            .unwrap_or(0);
        assert_eq!(len, CACHE_CAPACITY - CACHE_CAPACITY / 8 + 1);
        assert!(cache.lookup("newcomer").is_some());
    }

    #[test]
    fn a_credential_allows_exactly_its_scope() {
        let credential = credential("agent");
        assert!(credential.allows(&Intent::new("a")));
        assert!(credential.allows(&Intent::new("b")));
        assert!(!credential.allows(&Intent::new("c")));
        assert_eq!(credential.agent.as_str(), "agent");
    }
}
