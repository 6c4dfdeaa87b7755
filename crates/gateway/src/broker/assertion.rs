//! Verifying an identity assertion: a self-signed EdDSA JWT from a registered agent, or
//! a JWT from a trusted issuer's JWKS (a SPIFFE JWT-SVID fits). Short-lived, for this
//! gateway's audience, and single-use: its `jti` is claimed in the store only after the
//! signature verified, so nobody can burn another agent's `jti`.

use std::sync::{Arc, LazyLock};

use gatehouse_core::config::{Agent, AgentKey};
use gatehouse_core::refusal::{AuthFailure, Refusal};
use gatehouse_core::token::{self, AssertionClaims, TimeClaims, UnverifiedJwt, VerifyKey};

use crate::pipeline::record::EventDraft;
use crate::state::State;

/// Clock skew tolerated between agents and the gateway.
const LEEWAY_SECS: i64 = 30;

pub(super) async fn verify<'a>(
    state: &'a Arc<State>,
    assertion: &str,
    draft: &mut EventDraft,
) -> Result<&'a Agent, Refusal> {
    let jwt = token::decode(assertion).map_err(Refusal::InvalidAssertion)?;
    let claims = jwt.assertion_claims().map_err(Refusal::InvalidAssertion)?;
    draft.agent(claims.sub.as_str().into());
    let Some(agent) = state.config.agents.get(claims.sub.as_str()) else {
        // As much work as a known agent's bad signature, so timing tells nothing either.
        let _ = jwt.verify(&decoy_key());
        return Err(unverified(draft, AuthFailure::UnknownAgent));
    };
    check_signed(state, agent, &jwt, &claims).map_err(|failure| unverified(draft, failure))?;
    check_claims(state, &claims).map_err(Refusal::InvalidAssertion)?;
    claim_jti(state, &claims).await?;
    Ok(agent)
}

/// Until the signature verifies, every failure looks the same to the caller: an unknown
/// agent, a key it does not have and a bad signature must not tell agent ids apart.
/// The event keeps the real failure.
fn unverified(draft: &mut EventDraft, failure: AuthFailure) -> Refusal {
    if failure != AuthFailure::BadSignature {
        draft.note(&format!(
            "before the signature verified: {}",
            failure.label()
        ));
    }
    Refusal::InvalidAssertion(AuthFailure::BadSignature)
}

/// A fixed key no assertion is signed with, verified against for unknown agents.
fn decoy_key() -> VerifyKey {
    static DECOY: LazyLock<ed25519_dalek::VerifyingKey> =
        LazyLock::new(|| ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32]).verifying_key());
    VerifyKey::Ed25519(*DECOY)
}

fn check_signed(
    state: &State,
    agent: &Agent,
    jwt: &UnverifiedJwt,
    claims: &AssertionClaims,
) -> Result<(), AuthFailure> {
    let key = match &agent.key {
        AgentKey::PublicKey(key) => {
            // A self-signed assertion names the agent as its own issuer.
            if claims.iss != claims.sub {
                return Err(AuthFailure::UnknownKey);
            }
            VerifyKey::Ed25519(*key)
        }
        AgentKey::Issuer(name) => {
            let issuer = state
                .config
                .issuers
                .get(name)
                .ok_or(AuthFailure::UnknownKey)?;
            if claims.iss != issuer.issuer {
                return Err(AuthFailure::UnknownKey);
            }
            let header = jwt.header();
            issuer
                .jwks
                .find(header.kid.as_deref(), header.alg)
                .ok_or(AuthFailure::UnknownKey)?
                .clone()
        }
    };
    jwt.verify(&key)
}

fn check_claims(state: &State, claims: &AssertionClaims) -> Result<(), AuthFailure> {
    if !claims.aud.contains(&state.config.gateway.audience) {
        return Err(AuthFailure::WrongAudience);
    }
    let times = TimeClaims {
        iat: claims.iat,
        nbf: claims.nbf,
        exp: claims.exp,
    };
    let max = state.config.gateway.limits.max_assertion_lifetime;
    token::check_times(&times, state.clock.now(), LEEWAY_SECS, Some(max))?;
    if claims.jti.as_deref().is_none_or(str::is_empty) {
        return Err(AuthFailure::MissingClaim("jti"));
    }
    Ok(())
}

async fn claim_jti(state: &Arc<State>, claims: &AssertionClaims) -> Result<(), Refusal> {
    let store = Arc::clone(&state.store);
    let issuer = claims.iss.clone();
    let jti = claims.jti.clone().unwrap_or_default();
    let expires = claims.exp.saturating_add(LEEWAY_SECS);
    let now = state.clock.now().secs();
    let fresh = tokio::task::spawn_blocking(move || store.claim_jti(&issuer, &jti, expires, now))
        .await
        .map_err(|error| Refusal::Internal {
            reason: format!("jti check failed: {error}"),
        })?
        .map_err(|error| Refusal::Internal {
            reason: format!("jti check failed: {error}"),
        })?;
    if fresh {
        Ok(())
    } else {
        Err(Refusal::InvalidAssertion(AuthFailure::Replayed))
    }
}
