//! The scope index never changes a decision: for random policy sets, `decide` agrees
//! with evaluating every policy, both through the engine and through plain Cedar with an
//! entity store and schema built independently from the printed schema text; and neither
//! do the context cache and the memory of recent decisions.

use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityUid, Policy, PolicyId, PolicySet, Request,
    Schema,
};
use gatehouse_core::config::Config;
use gatehouse_core::model::{Access, AttrValue, Tier};
use gatehouse_policy::{PolicyDecision, PolicyEngine};
use proptest::prelude::*;
use serde_json::json;

use crate::fixture;
use crate::harness::{Call, MONDAY_NOON, TEAM_SCHEMA, call};

const AGENTS: [(&str, &[&str], &str); 4] = [
    ("a0", &["g0"], "support"),
    ("a1", &["g0", "g1"], "platform"),
    ("a2", &["g1"], "support"),
    ("a3", &[], "ops"),
];
const INTENTS: [(&str, Access); 4] = [
    ("i0", Access::Read),
    ("i1", Access::Write),
    ("i2", Access::Read),
    ("i3", Access::Write),
];
const TOOLS: [(&str, &str); 3] = [("t0", "s0"), ("t1", "s0"), ("t2", "s1")];

pub(crate) fn world() -> Config {
    let mut config = fixture::empty();
    for (id, groups, team) in AGENTS {
        let team = ("team", AttrValue::String(team.to_owned()));
        fixture::add_agent(&mut config, id, groups, &[team]);
    }
    for (intent, access) in INTENTS {
        fixture::add_intent(&mut config, intent, access);
    }
    for (tool, segment) in TOOLS {
        fixture::add_tool(&mut config, tool, segment);
    }
    fixture::set_schema(&mut config, TEAM_SCHEMA);
    config
}

/// One random policy: effect and a choice for each scope part and the condition.
pub(crate) type Shape = (bool, (u8, u8), (u8, u8, u8), (u8, u8), u8);

pub(crate) fn shape() -> impl Strategy<Value = Shape> {
    (
        any::<bool>(),
        (0..6_u8, 0..5_u8),
        (0..4_u8, 0..4_u8, 0..2_u8),
        (0..5_u8, 0..4_u8),
        0..6_u8,
    )
}

pub(crate) fn policy_text(
    index: usize,
    (permit, principal, action, resource, condition): Shape,
) -> String {
    let effect = if permit { "permit" } else { "forbid" };
    format!(
        "@id(\"p{index}\")\n{effect}(\n  {},\n  {},\n  {}\n){};\n",
        principal_text(principal),
        action_text(action),
        resource_text(resource),
        condition_text(condition)
    )
}

fn principal_text((kind, k): (u8, u8)) -> String {
    let group = k % 3;
    match kind {
        0 => "principal".to_owned(),
        1 => format!("principal == Gatehouse::Agent::\"a{k}\""),
        2 => format!("principal in Gatehouse::Group::\"g{group}\""),
        3 => "principal is Gatehouse::Agent".to_owned(),
        4 => format!("principal is Gatehouse::Agent in Gatehouse::Group::\"g{group}\""),
        _ => format!("principal in Gatehouse::Agent::\"a{k}\""),
    }
}

fn action_text((kind, k, group): (u8, u8, u8)) -> String {
    let group = if group == 0 { "read" } else { "write" };
    match kind {
        0 => "action".to_owned(),
        1 => format!("action == Gatehouse::Action::\"i{k}\""),
        2 => format!("action in Gatehouse::Action::\"{group}\""),
        _ => format!("action in [Gatehouse::Action::\"i{k}\", Gatehouse::Action::\"{group}\"]"),
    }
}

fn resource_text((kind, k): (u8, u8)) -> String {
    let segment = k % 3;
    match kind {
        0 => "resource".to_owned(),
        1 => format!("resource == Gatehouse::Tool::\"t{k}\""),
        2 => format!("resource in Gatehouse::Segment::\"s{segment}\""),
        3 => "resource is Gatehouse::Tool".to_owned(),
        _ => format!("resource is Gatehouse::Tool in Gatehouse::Segment::\"s{segment}\""),
    }
}

fn condition_text(kind: u8) -> &'static str {
    match kind {
        0 => "",
        1 => " when { context.now.hour < 12 }",
        2 => " when { principal.team == \"support\" }",
        3 => " unless { context.write }",
        4 => " when { context.now.unix + 9223372036854775807 > 0 }",
        _ => " when { context.tier == \"high\" }",
    }
}

/// Every (agent, intent, tool) in two contexts: a quiet morning read and a risky evening
/// write.
pub(crate) fn calls() -> Vec<Call> {
    let mut calls = Vec::new();
    for (agent, _, _) in AGENTS {
        for (intent, _) in INTENTS {
            for (tool, _) in TOOLS {
                calls.push(call(agent, intent, tool).at(MONDAY_NOON - 3 * 3600));
                let evening = MONDAY_NOON + 8 * 3600;
                calls.push(
                    call(agent, intent, tool)
                        .at(evening)
                        .writing()
                        .tier(Tier::High),
                );
            }
        }
    }
    calls
}

/// Plain Cedar: the full policy set, entities from JSON, the schema from its printed text.
struct Oracle {
    schema: Schema,
    entities: Entities,
    policies: PolicySet,
    /// The engine's version: the oracle checks decisions, not how versions are named.
    version: std::sync::Arc<str>,
}

impl Oracle {
    fn new(engine: &PolicyEngine, texts: &[String]) -> Self {
        let (schema, _) = Schema::from_cedarschema_str(&engine.schema_text()).unwrap();
        let entities = Entities::from_json_value(entities_json(), Some(&schema)).unwrap();
        let mut policies = PolicySet::new();
        for (index, text) in texts.iter().enumerate() {
            let id = PolicyId::new(format!("p{index}"));
            policies
                .add(Policy::parse(Some(id), text).unwrap())
                .unwrap();
        }
        Self {
            schema,
            entities,
            policies,
            version: std::sync::Arc::clone(engine.version()),
        }
    }

    fn decide(&self, call: &Call) -> PolicyDecision {
        let request = call.request();
        let uid = |kind: &str, id: &str| {
            EntityUid::from_str(&format!("Gatehouse::{kind}::\"{id}\"")).unwrap()
        };
        let now = request.context.now.secs();
        let context = json!({
            "now": { "unix": now, "hour": now.rem_euclid(86_400) / 3600,
                     "weekday": (now.div_euclid(86_400) + 3).rem_euclid(7) },
            "workflow": request.context.workflow,
            "task_class": request.context.task_class,
            "segment": request.context.segment,
            "data_class": request.context.data_class,
            "tier": request.context.tier.as_str(),
            "write": request.context.write,
            "anomaly": request.context.anomaly.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        });
        let context = Context::from_json_value(context, None).unwrap();
        let cedar_request = Request::new(
            uid("Agent", request.agent.as_str()),
            uid("Action", request.intent.as_str()),
            uid("Tool", request.tool.as_str()),
            context,
            Some(&self.schema),
        )
        .unwrap();
        let response =
            Authorizer::new().is_authorized(&cedar_request, &self.policies, &self.entities);
        let mut policies: Vec<_> = response
            .diagnostics()
            .reason()
            .map(|id| gatehouse_core::model::PolicyId::from(id.as_ref()))
            .collect();
        policies.sort();
        let mut errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        errors.sort();
        PolicyDecision {
            allowed: response.decision() == Decision::Allow,
            policies,
            errors,
            // The generated policies carry no `@tier`.
            tier: None,
            version: std::sync::Arc::clone(&self.version),
        }
    }
}

fn entities_json() -> serde_json::Value {
    let mut entities = Vec::new();
    let entity = |kind: &str, id: &str| json!({ "type": format!("Gatehouse::{kind}"), "id": id });
    for (id, groups, team) in AGENTS {
        let parents: Vec<_> = groups.iter().map(|g| entity("Group", g)).collect();
        entities.push(
            json!({ "uid": entity("Agent", id), "attrs": { "team": team }, "parents": parents }),
        );
    }
    for group in ["g0", "g1"] {
        entities.push(json!({ "uid": entity("Group", group), "attrs": {}, "parents": [] }));
    }
    for segment in ["s0", "s1"] {
        entities.push(json!({ "uid": entity("Segment", segment), "attrs": {}, "parents": [] }));
    }
    for (tool, segment) in TOOLS {
        let parents = [entity("Segment", segment)];
        entities.push(json!({ "uid": entity("Tool", tool), "attrs": {}, "parents": parents }));
    }
    serde_json::Value::Array(entities)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_scope_index_decides_like_the_full_policy_set(
        shapes in prop::collection::vec(shape(), 0..14),
        split in 0..14_usize,
    ) {
        let texts: Vec<String> =
            shapes.iter().enumerate().map(|(i, shape)| policy_text(i, *shape)).collect();
        let mut config = world();
        let split = split.min(texts.len());
        fixture::add_policy(&mut config, "a.cedar", &texts[..split].concat());
        fixture::add_policy(&mut config, "b.cedar", &texts[split..].concat());
        let engine = PolicyEngine::build(&config).unwrap();
        let oracle = Oracle::new(&engine, &texts);
        for call in calls() {
            let indexed = call.on(&engine);
            let full = engine.decide_unindexed(&call.request());
            prop_assert_eq!(&indexed, &full);
            prop_assert_eq!(&indexed, &oracle.decide(&call));
            // A second ask is served from the cache and must not differ.
            prop_assert_eq!(&indexed, &call.on(&engine));
            // Nor may a decision remembered from the same second (first asked, then recalled).
            prop_assert_eq!(&indexed, &engine.decide_recent(&call.request()));
            prop_assert_eq!(&indexed, &engine.decide_recent(&call.request()));
        }
    }
}
