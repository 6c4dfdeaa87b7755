//! The event query string: `agent`, `workflow`, `tool`, `intent`, `decision`
//! (`allow`/`deny`/`error`), `since` and `until` (Unix milliseconds), `after` (a decision
//! id) and `limit`. Unknown parameters are errors, not silently ignored.

use gatehouse_core::event::{EventFilter, Outcome};
use gatehouse_core::ids::DecisionId;

use crate::control::ControlError;

pub(super) fn event_filter(query: &str) -> Result<EventFilter, ControlError> {
    let mut filter = EventFilter::default();
    for pair in gatehouse_core::form::pairs(query) {
        let (key, value) = pair.map_err(not_utf8)?;
        apply(&mut filter, &key, value)?;
    }
    Ok(filter)
}

fn apply(filter: &mut EventFilter, key: &str, value: String) -> Result<(), ControlError> {
    match key {
        "agent" => filter.agent = Some(value.into()),
        "workflow" => filter.workflow = Some(value.into()),
        "tool" => filter.tool = Some(value.into()),
        "intent" => filter.intent = Some(value.into()),
        "decision" => {
            filter.outcome = Some(value.parse::<Outcome>().map_err(|_| bad(key, &value))?)
        }
        "since" => filter.since_ms = Some(value.parse().map_err(|_| bad(key, &value))?),
        "until" => filter.until_ms = Some(value.parse().map_err(|_| bad(key, &value))?),
        "after" => filter.after = Some(DecisionId::parse(&value).ok_or_else(|| bad(key, &value))?),
        "limit" => filter.limit = Some(value.parse().map_err(|_| bad(key, &value))?),
        _ => {
            return Err(ControlError::BadRequest {
                reason: format!("unknown query parameter `{key}`"),
            });
        }
    }
    Ok(())
}

/// `agent`, `status` (`active`, `paused`, `ended`, `expired`) and `limit`.
pub(super) fn workflow_filter(
    query: &str,
) -> Result<gatehouse_store::WorkflowFilter, ControlError> {
    let mut filter = gatehouse_store::WorkflowFilter::default();
    for pair in gatehouse_core::form::pairs(query) {
        let (key, value) = pair.map_err(not_utf8)?;
        match key.as_str() {
            "agent" => filter.agent = Some(value),
            "status" => {
                filter.status = Some(
                    gatehouse_core::workflow::Status::parse(&value)
                        .ok_or_else(|| bad(&key, &value))?,
                );
            }
            "limit" => filter.limit = Some(value.parse().map_err(|_| bad(&key, &value))?),
            _ => {
                return Err(ControlError::BadRequest {
                    reason: format!("unknown query parameter `{key}`"),
                });
            }
        }
    }
    Ok(filter)
}

fn not_utf8(_: gatehouse_core::form::FormError) -> ControlError {
    ControlError::BadRequest {
        reason: "a query value is not UTF-8".to_owned(),
    }
}

fn bad(key: &str, value: &str) -> ControlError {
    ControlError::BadRequest {
        reason: format!("invalid value `{value}` for `{key}`"),
    }
}
