//! `GET /v1/audit/verify[?since=MS]`: the events' hash chain checked by the store
//! (`gatehouse_store::ChainCheck`), for auditors and operators. The answer is 200 with
//! the check whether or not the chain holds; `unbroken` says which, and `first_break`
//! names the block, the position in it and the event where it breaks.

use std::sync::Arc;

use gatehouse_core::config::Role;
use http::{Request, Response};
use hyper::body::Incoming;

use super::{ControlError, auth, blocking, ok_json};
use crate::body::ResponseBody;
use crate::state::State;

pub(super) async fn verify(
    state: &Arc<State>,
    request: &Request<Incoming>,
) -> Result<Response<ResponseBody>, ControlError> {
    auth::require(state, request, &[Role::Auditor, Role::Operator])?;
    let since_ms = since(request.uri().query().unwrap_or(""))?;
    let store = Arc::clone(&state.store);
    let check = blocking(move || store.verify_chain(since_ms)).await?;
    let mut answer = serde_json::json!(check);
    if let Some(object) = answer.as_object_mut() {
        object.insert("unbroken".to_owned(), check.is_unbroken().into());
        if let Some(found) = &check.first_break {
            object.insert("meaning".to_owned(), found.kind.describe().into());
        }
    }
    Ok(ok_json(&answer))
}

/// The one parameter, `since` (Unix milliseconds); anything else is refused.
fn since(query: &str) -> Result<Option<i64>, ControlError> {
    let mut since = None;
    for pair in gatehouse_core::form::pairs(query) {
        let (key, value) = pair.map_err(|error| ControlError::BadRequest {
            reason: error.to_string(),
        })?;
        match key.as_str() {
            "since" => {
                since = Some(value.parse().map_err(|_| ControlError::BadRequest {
                    reason: format!("`since` must be Unix milliseconds, not `{value}`"),
                })?);
            }
            _ => {
                return Err(ControlError::BadRequest {
                    reason: format!("unknown query parameter `{key}`"),
                });
            }
        }
    }
    Ok(since)
}
