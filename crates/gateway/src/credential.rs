//! Task credentials: minted by the broker, verified on every data-plane call.
//!
//! Verification is cached by token text: a token that verified once verifies again, so the
//! cache only skips the signature check; expiry is checked on every use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use gatehouse_core::clock::UnixTime;
use gatehouse_core::model::{AgentId, Intent, SegmentName};
use gatehouse_core::refusal::AuthFailure;
use gatehouse_core::token::{self, TASK_TOKEN_TYP, TaskClaims, TimeClaims, VerifyKey};

use crate::state::State;

/// Most verified credentials remembered; the cache is cleared when full.
const CACHE_CAPACITY: usize = 65_536;

/// A verified task credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub claims: TaskClaims,
    pub segment: SegmentName,
    /// `claims.sub` as the agent id policy decides on.
    pub agent: AgentId,
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
#[derive(Debug, Default)]
pub struct CredentialCache {
    entries: RwLock<HashMap<Box<str>, Arc<Credential>>>,
}

impl CredentialCache {
    fn lookup(&self, token: &str) -> Option<Arc<Credential>> {
        let entries = self.entries.read().ok()?;
        entries.get(token).cloned()
    }

    fn remember(&self, token: &str, credential: Arc<Credential>) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= CACHE_CAPACITY {
            entries.clear();
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

/// Verifies a task credential: cached signature, then expiry and registration on every use.
pub fn verify(state: &State, token: &str) -> Result<Arc<Credential>, AuthFailure> {
    let now = state.clock.now();
    let credential = match state.credentials.lookup(token) {
        Some(credential) => credential,
        None => {
            let credential = Arc::new(verify_signature(state, token, now)?);
            state.credentials.remember(token, Arc::clone(&credential));
            credential
        }
    };
    check_still_valid(state, &credential, now)?;
    Ok(credential)
}

fn verify_signature(state: &State, token: &str, now: UnixTime) -> Result<Credential, AuthFailure> {
    let jwt = token::decode(token)?;
    if jwt.header().typ.as_deref() != Some(TASK_TOKEN_TYP) {
        return Err(AuthFailure::WrongTokenType);
    }
    let kid = jwt.header().kid.as_deref().ok_or(AuthFailure::UnknownKey)?;
    let key = state
        .keys
        .verifying(kid, now.secs())
        .ok_or(AuthFailure::UnknownKey)?;
    jwt.verify(&VerifyKey::Ed25519(key.verifying))?;
    let claims: TaskClaims = jwt.claims()?;
    let audience = &state.config.gateway.audience;
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
    state: &State,
    credential: &Credential,
    now: UnixTime,
) -> Result<(), AuthFailure> {
    check_times(&credential.claims, now)?;
    if !state
        .config
        .agents
        .contains_key(credential.claims.sub.as_str())
    {
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
