//! Rebuilding a recorded call's decision request from its event, so that a candidate
//! policy set can decide it again with [`crate::PolicyEngine::decide`], the same
//! function the data plane calls, over exactly what Cedar saw the first time.

use gatehouse_core::baseline::anomaly::AnomalySet;
use gatehouse_core::clock::UnixTime;
use gatehouse_core::event::{DecideInput, Event};
use gatehouse_core::model::{
    AgentId, DataClass, Intent, SegmentName, TaskClassName, ToolName, WorkflowId,
};

use crate::engine::{DecisionContext, DecisionRequest};

/// A recorded call's decision request, owned.
#[derive(Debug, Clone)]
pub struct Recorded {
    agent: AgentId,
    intent: Intent,
    tool: ToolName,
    workflow: WorkflowId,
    task_class: TaskClassName,
    segment: SegmentName,
    data_class: DataClass,
    input: DecideInput,
    anomaly: AnomalySet,
}

/// Why an event cannot be decided again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unreplayable {
    /// Refused before the decide phase, or recorded before events carried its input.
    #[error(
        "the event has no decide input (refused before policy, or recorded before replay existed)"
    )]
    NoInput,
    /// The decide input is there but a field of the request is not (a damaged event).
    #[error("the event lacks `{0}`")]
    Missing(&'static str),
}

impl Recorded {
    /// The request `event` was decided on.
    pub fn of(event: &Event) -> Result<Self, Unreplayable> {
        let input = event.decide.clone().ok_or(Unreplayable::NoInput)?;
        fn field<T: Clone>(value: &Option<T>, name: &'static str) -> Result<T, Unreplayable> {
            value.clone().ok_or(Unreplayable::Missing(name))
        }
        Ok(Self {
            agent: field(&event.agent, "agent")?,
            intent: field(&event.intent, "intent")?,
            tool: field(&event.tool, "tool")?,
            workflow: field(&event.workflow, "workflow")?,
            task_class: field(&event.task_class, "task_class")?,
            segment: field(&event.segment, "segment")?,
            data_class: field(&event.data_class, "data_class")?,
            input,
            anomaly: event.anomaly,
        })
    }

    /// Whether policy allowed the call when it was made.
    pub fn allowed(&self) -> bool {
        self.input.allowed
    }

    pub fn request(&self) -> DecisionRequest<'_> {
        DecisionRequest {
            agent: &self.agent,
            intent: &self.intent,
            tool: &self.tool,
            context: DecisionContext {
                now: UnixTime::from_secs(self.input.now),
                workflow: &self.workflow,
                task_class: &self.task_class,
                segment: &self.segment,
                data_class: &self.data_class,
                tier: self.input.tier,
                write: self.input.write,
                args: self.input.args.as_ref(),
                anomaly: self.anomaly,
            },
        }
    }
}

impl DecisionContext<'_> {
    /// What an event keeps of this context (see [`DecideInput`]), with the verdict.
    pub fn input(&self, allowed: bool) -> DecideInput {
        DecideInput {
            now: self.now.secs(),
            tier: self.tier,
            write: self.write,
            allowed,
            args: self.args.cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use gatehouse_core::baseline::anomaly::Anomaly;
    use gatehouse_core::event::EventKind;
    use gatehouse_core::ids::DecisionId;
    use gatehouse_core::model::{AttrValue, Tier};

    use super::*;

    #[test]
    fn an_event_gives_back_the_request_it_was_decided_on() {
        let args = BTreeMap::from([("id".to_owned(), AttrValue::Long(4))]);
        let agent = AgentId::new("bot");
        let intent = Intent::new("ticket.read");
        let tool = ToolName::new("tickets");
        let context = DecisionContext {
            now: UnixTime::from_secs(1_700_000_123),
            workflow: "wf",
            task_class: "triage",
            segment: "support",
            data_class: "internal",
            tier: Tier::Medium,
            write: true,
            args: Some(&args),
            anomaly: AnomalySet::EMPTY.with(Anomaly::Rate),
        };
        let mut event = Event {
            method: "GET".to_owned(),
            path: "/".to_owned(),
            ..Event::blank(DecisionId::from_u128(1), 0, EventKind::Tool)
        };
        event.agent = Some("bot".into());
        event.intent = Some("ticket.read".into());
        event.tool = Some("tickets".into());
        event.workflow = Some("wf".into());
        event.task_class = Some("triage".into());
        event.segment = Some("support".into());
        event.data_class = Some("internal".into());
        event.anomaly = context.anomaly;
        assert_eq!(Recorded::of(&event).unwrap_err(), Unreplayable::NoInput);
        event.decide = Some(context.input(true));
        let recorded = Recorded::of(&event).unwrap();
        let rebuilt = recorded.request();
        assert_eq!(rebuilt.agent, &agent);
        assert_eq!(rebuilt.intent, &intent);
        assert_eq!(rebuilt.tool, &tool);
        assert_eq!(format!("{:?}", rebuilt.context), format!("{context:?}"));
        assert!(recorded.allowed());
    }
}
