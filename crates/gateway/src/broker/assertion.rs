//! Verifying an identity assertion: a self-signed EdDSA JWT from a registered agent, or
//! a JWT from a trusted issuer's JWKS (a SPIFFE JWT-SVID fits). Short-lived, for this
//! gateway's audience, and single-use: its `jti` is claimed in the store only after the
//! signature verified, so nobody can burn another agent's `jti`.

use std::sync::Arc;

use gatehouse_core::config::{Agent, AgentKey};
use gatehouse_core::refusal::{AuthFailure, Refusal};
use gatehouse_core::token::{self, AssertionClaims, TimeClaims, UnverifiedJwt, VerifyKey};

use crate::dataplane::record::EventDraft;
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
    draft.agent(&claims.sub);
    let agent = state
        .config
        .agents
        .get(claims.sub.as_str())
        .ok_or(Refusal::InvalidAssertion(AuthFailure::UnknownAgent))?;
    check_signed(state, agent, &jwt, &claims).map_err(Refusal::InvalidAssertion)?;
    check_claims(state, &claims).map_err(Refusal::InvalidAssertion)?;
    claim_jti(state, &claims).await?;
    Ok(agent)
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
