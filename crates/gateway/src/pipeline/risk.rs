//! Response risk (issue 14, item 9), transport-neutral: the caller's ceiling, and the
//! verdict on an answer known whole (an MCP result). HTTP responses stream, and are
//! held and scanned by `dataplane/risk.rs` with the same judges.

use std::sync::Arc;

use gatehouse_core::config::Config;
use gatehouse_core::refusal::Refusal;
use gatehouse_core::risk::{self, Judged, RiskSettings, RouteRisk};
use serde_json::Value;

use crate::pipeline::record::EventDraft;

/// What a call's route asks of its response, with the settings it is judged by and the
/// caller's ceiling. `None` for a route that scans nothing: that response is not read.
#[derive(Debug, Clone)]
pub struct Screen {
    pub settings: Arc<RiskSettings>,
    pub route: Arc<RouteRisk>,
    /// The rank of the caller's task class `max_data_class`.
    pub ceiling: Option<u8>,
}

impl Screen {
    /// The screen for a call to a route with `risk`, made by the caller the draft names:
    /// the configuration's risk settings and the caller's task class are all it reads.
    pub fn of(config: &Config, route: Option<&Arc<RouteRisk>>, draft: &EventDraft) -> Option<Self> {
        let route = route?;
        let settings = config.risk.as_ref()?;
        let ceiling = draft
            .task_class()
            .and_then(|class| config.task_classes.get(class))
            .and_then(|class| class.max_data_class);
        Some(Self {
            settings: Arc::clone(settings),
            route: Arc::clone(route),
            ceiling,
        })
    }

    /// Records the verdict on the draft, and refuses a class above the ceiling.
    pub fn settle(
        &self,
        judged: Judged,
        draft: &mut EventDraft,
    ) -> Result<Option<Vec<u8>>, Refusal> {
        let rank = judged.rank;
        let class = judged.risk.class.to_string();
        draft.risk(judged.risk);
        match self.ceiling {
            Some(ceiling) if rank > ceiling => Err(Refusal::ResponseClassExceeded {
                class,
                ceiling: self.class_name(ceiling),
            }),
            _ => Ok(judged.replaced),
        }
    }

    /// Judges an MCP result in place (redacting it) and records the verdict.
    pub fn judge_result(&self, result: &mut Value, draft: &mut EventDraft) -> Result<(), Refusal> {
        let judged = risk::judge_json(&self.settings, &self.route, result);
        self.settle(judged, draft).map(|_| ())
    }

    pub fn class_name(&self, rank: u8) -> String {
        self.settings
            .classes
            .get(usize::from(rank))
            .map(ToString::to_string)
            .unwrap_or_default()
    }
}
