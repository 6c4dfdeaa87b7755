//! Operator authentication: a bearer token whose SHA-256 matches a configured operator,
//! compared in constant time; the token itself is never stored.

use gatehouse_core::config::{Operator, Role};
use http::Request;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::control::ControlError;
use crate::credential::bearer;
use crate::state::State;

/// An authenticated control-plane caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
}

/// The caller, if it holds one of `roles`.
pub(super) fn require<B>(
    state: &State,
    request: &Request<B>,
    roles: &[Role],
) -> Result<Caller, ControlError> {
    let header = request.headers().get(http::header::AUTHORIZATION);
    let token = bearer(header).map_err(|_| ControlError::Unauthenticated)?;
    let operator = find(&state.config.operators, token).ok_or(ControlError::Unauthenticated)?;
    if !roles.iter().any(|role| operator.roles.contains(role)) {
        let needed = roles
            .iter()
            .map(|role| role.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ControlError::Forbidden { needed });
    }
    Ok(Caller {
        name: operator.name.clone(),
    })
}

/// The operator whose token this is, if any.
pub(crate) fn find<'a>(operators: &'a [Operator], token: &str) -> Option<&'a Operator> {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    // Every operator is compared, so timing does not reveal which one matched.
    let mut found = None;
    for operator in operators {
        if bool::from(operator.token_sha256.ct_eq(&digest)) {
            found = Some(operator);
        }
    }
    found
}
