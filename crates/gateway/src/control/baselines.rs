//! `GET /v1/baselines?agent=A[&days=N]` (auditors, operators): what agent `A` did over
//! the learning window (or the `N` days before the current hour), learned from the stored
//! counts: per intent, the band of calls and bytes per hour of day, and the hours.

use std::sync::Arc;

use gatehouse_core::baseline::Window;
use gatehouse_core::config::Role;
use http::{Request, Response};
use hyper::body::Incoming;

use crate::body::ResponseBody;
use crate::control::{ControlError, auth, blocking, ok_json};
use crate::state::State;

/// The longest window asked for: as `[baseline] window_days` allows.
const MAX_DAYS: u32 = 90;

pub(super) async fn show(
    state: &Arc<State>,
    request: &Request<Incoming>,
) -> Result<Response<ResponseBody>, ControlError> {
    auth::require(state, request, &[Role::Auditor, Role::Operator])?;
    let (agent, days) = parameters(request.uri().query().unwrap_or(""))?;
    let days = days.unwrap_or(state.config.baseline.window_days);
    let window = Window::ending(state.clock.now().millis(), days);
    let store = Arc::clone(&state.store);
    let learned = blocking(move || store.baseline(&agent, window)).await?;
    Ok(ok_json(&serde_json::json!(learned)))
}

/// `agent` (required) and `days` (1–90); nothing else.
fn parameters(query: &str) -> Result<(String, Option<u32>), ControlError> {
    let bad = |reason: String| ControlError::BadRequest { reason };
    let pairs =
        gatehouse_core::form::distinct_pairs(query).map_err(|error| bad(error.to_string()))?;
    let (mut agent, mut days) = (None, None);
    for (key, value) in pairs {
        match key.as_str() {
            "agent" => agent = Some(value),
            "days" => {
                let parsed = value.parse().ok().filter(|n| (1..=MAX_DAYS).contains(n));
                let message = format!("`days` must be a whole number from 1 to {MAX_DAYS}");
                days = Some(parsed.ok_or_else(|| bad(message))?);
            }
            _ => return Err(bad(format!("unknown query parameter `{key}`"))),
        }
    }
    let agent = agent.ok_or_else(|| bad("`agent` is required".to_owned()))?;
    Ok((agent, days))
}
