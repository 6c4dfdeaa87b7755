//! Decisions: permit, forbid, default deny, groups, action groups, segments, attributes
//! and context.

use gatehouse_core::baseline::anomaly::Anomaly;
use gatehouse_core::model::Tier;

use crate::harness::{MONDAY_NOON, TEAM_SCHEMA, World, allowed_by, call, denied_by};

const TRIAGE_READS_TICKETS: &str = r#"permit(
  principal == Gatehouse::Agent::"triage-bot",
  action == Gatehouse::Action::"ticket.read",
  resource == Gatehouse::Tool::"tickets"
);"#;

#[test]
fn a_matching_permit_allows_and_is_named() {
    let engine = World::new()
        .policy("base.cedar", TRIAGE_READS_TICKETS)
        .engine();
    let decision = call("triage-bot", "ticket.read", "tickets").on(&engine);
    assert!(allowed_by(&decision, &["base:0"]), "{decision:?}");
}

#[test]
fn no_policies_means_every_call_is_denied() {
    let engine = World::new().engine();
    let decision = call("triage-bot", "ticket.read", "tickets").on(&engine);
    assert!(denied_by(&decision, &[]), "{decision:?}");
    assert_eq!(engine.policy_count(), 0);
}

#[test]
fn a_call_no_permit_covers_is_denied_by_default() {
    let engine = World::new()
        .policy("base.cedar", TRIAGE_READS_TICKETS)
        .engine();
    for (agent, intent, tool) in [
        ("deploy-bot", "ticket.read", "tickets"),
        ("triage-bot", "ticket.create", "tickets"),
        ("triage-bot", "ticket.read", "wiki"),
    ] {
        let decision = call(agent, intent, tool).on(&engine);
        assert!(
            denied_by(&decision, &[]),
            "{agent} {intent} {tool}: {decision:?}"
        );
    }
}

#[test]
fn a_forbid_overrides_a_permit_and_is_the_one_reported() {
    let engine = World::new()
        .policy(
            "base.cedar",
            r#"permit(principal in Gatehouse::Group::"triage", action, resource);
@id("no-deletes")
forbid(principal, action == Gatehouse::Action::"ticket.delete", resource);"#,
        )
        .engine();
    let create = call("triage-bot", "ticket.create", "tickets").on(&engine);
    assert!(allowed_by(&create, &["base:0"]), "{create:?}");
    let delete = call("triage-bot", "ticket.delete", "tickets").on(&engine);
    assert!(denied_by(&delete, &["no-deletes"]), "{delete:?}");
}

#[test]
fn a_group_permit_covers_its_members_only() {
    let engine = World::new()
        .policy(
            "ops.cedar",
            r#"permit(principal in Gatehouse::Group::"ops", action, resource);"#,
        )
        .engine();
    assert!(
        call("deploy-bot", "deploy.run", "deployer")
            .on(&engine)
            .allowed
    );
    assert!(
        !call("triage-bot", "deploy.run", "deployer")
            .on(&engine)
            .allowed
    );
}

#[test]
fn action_groups_follow_each_intents_access() {
    let engine = World::new()
        .policy(
            "read.cedar",
            r#"permit(principal, action in Gatehouse::Action::"read", resource);"#,
        )
        .engine();
    assert!(
        call("intern-bot", "ticket.read", "tickets")
            .on(&engine)
            .allowed
    );
    assert!(call("intern-bot", "wiki.read", "wiki").on(&engine).allowed);
    assert!(
        !call("intern-bot", "ticket.create", "tickets")
            .on(&engine)
            .allowed
    );
    assert!(
        !call("intern-bot", "deploy.run", "deployer")
            .on(&engine)
            .allowed
    );
}

#[test]
fn an_action_list_matches_any_of_its_entries() {
    let engine = World::new()
        .policy(
            "list.cedar",
            r#"permit(principal, action in [Gatehouse::Action::"deploy.run", Gatehouse::Action::"read"], resource);"#,
        )
        .engine();
    assert!(
        call("intern-bot", "deploy.run", "deployer")
            .on(&engine)
            .allowed
    );
    assert!(call("intern-bot", "wiki.read", "wiki").on(&engine).allowed);
    assert!(
        !call("intern-bot", "ticket.create", "tickets")
            .on(&engine)
            .allowed
    );
}

#[test]
fn a_segment_permit_covers_the_tools_in_it() {
    let engine = World::new()
        .policy(
            "data.cedar",
            r#"permit(principal, action, resource in Gatehouse::Segment::"data");"#,
        )
        .engine();
    assert!(
        call("intern-bot", "ticket.read", "tickets")
            .on(&engine)
            .allowed
    );
    assert!(call("intern-bot", "wiki.read", "wiki").on(&engine).allowed);
    assert!(
        !call("intern-bot", "deploy.run", "deployer")
            .on(&engine)
            .allowed
    );
}

#[test]
fn type_scopes_match_every_entity_of_the_type() {
    let engine = World::new()
        .policy(
            "types.cedar",
            r#"permit(principal is Gatehouse::Agent in Gatehouse::Group::"triage", action, resource is Gatehouse::Tool);"#,
        )
        .engine();
    assert!(call("triage-bot", "wiki.read", "wiki").on(&engine).allowed);
    assert!(!call("intern-bot", "wiki.read", "wiki").on(&engine).allowed);
}

#[test]
fn attribute_conditions_read_the_attributes_the_schema_declares() {
    let engine = World::new()
        .schema(TEAM_SCHEMA)
        .policy(
            "team.cedar",
            r#"permit(principal, action, resource) when { principal.team == "support" };"#,
        )
        .engine();
    assert!(
        call("triage-bot", "ticket.read", "tickets")
            .on(&engine)
            .allowed
    );
    assert!(
        call("intern-bot", "ticket.read", "tickets")
            .on(&engine)
            .allowed
    );
    assert!(
        !call("deploy-bot", "ticket.read", "tickets")
            .on(&engine)
            .allowed
    );
}

#[test]
fn context_conditions_see_the_utc_hour_and_weekday() {
    let engine = World::new()
        .policy(
            "hours.cedar",
            r#"permit(principal, action, resource);
@id("office-hours")
forbid(principal, action, resource)
  unless { context.now.hour >= 8 && context.now.hour < 18 && context.now.weekday < 5 };"#,
        )
        .engine();
    let noon = call("intern-bot", "wiki.read", "wiki").on(&engine);
    assert!(allowed_by(&noon, &["hours:0"]), "{noon:?}");
    let night = call("intern-bot", "wiki.read", "wiki")
        .at(MONDAY_NOON + 12 * 3600)
        .on(&engine);
    assert!(denied_by(&night, &["office-hours"]), "{night:?}");
    let sunday = call("intern-bot", "wiki.read", "wiki")
        .at(MONDAY_NOON - 86_400)
        .on(&engine);
    assert!(denied_by(&sunday, &["office-hours"]), "{sunday:?}");
}

#[test]
fn context_conditions_see_tier_write_and_workflow() {
    let engine = World::new()
        .policy(
            "ctx.cedar",
            r#"permit(principal, action, resource)
  when { context.tier == "low" && !context.write && context.workflow == "wf-1"
         && context.task_class == "triage" && context.segment == "data"
         && context.data_class == "internal" && context.now.unix > 0 };"#,
        )
        .engine();
    let plain = call("intern-bot", "wiki.read", "wiki");
    assert!(plain.on(&engine).allowed);
    let high = call("intern-bot", "wiki.read", "wiki").tier(Tier::High);
    assert!(!high.on(&engine).allowed);
    assert!(
        !call("intern-bot", "wiki.read", "wiki")
            .writing()
            .on(&engine)
            .allowed
    );
}

#[test]
fn context_anomaly_is_a_set_of_strings_policy_can_forbid_on() {
    let engine = World::new()
        .policy(
            "anomaly.cedar",
            r#"permit(principal, action, resource);
@id("no-new-intents")
forbid(principal, action, resource) when { context.anomaly.contains("new-intent") };
@id("rate-is-medium")
@tier("medium")
permit(principal, action, resource) when { context.anomaly.containsAny(["rate", "volume"]) };"#,
        )
        .engine();
    let usual = call("intern-bot", "wiki.read", "wiki").on(&engine);
    assert!(usual.allowed && usual.tier.is_none(), "{usual:?}");
    let new =
        call("intern-bot", "wiki.read", "wiki").anomalous(&[Anomaly::NewIntent, Anomaly::Hour]);
    assert!(denied_by(&new.on(&engine), &["no-new-intents"]));
    let burst = call("intern-bot", "wiki.read", "wiki").anomalous(&[Anomaly::Rate]);
    let decided = burst.on(&engine);
    assert!(decided.allowed, "{decided:?}");
    assert_eq!(decided.tier, Some(Tier::Medium));
}

#[test]
fn unknown_agents_intents_and_tools_are_denied_with_an_error() {
    let engine = World::new()
        .policy("all.cedar", "permit(principal, action, resource);")
        .engine();
    for (agent, intent, tool, expected) in [
        ("ghost", "wiki.read", "wiki", "unknown agent `ghost`"),
        (
            "intern-bot",
            "wiki.burn",
            "wiki",
            "unknown intent `wiki.burn`",
        ),
        ("intern-bot", "wiki.read", "attic", "unknown tool `attic`"),
    ] {
        let decision = call(agent, intent, tool).on(&engine);
        assert!(!decision.allowed);
        assert!(decision.policies.is_empty());
        assert_eq!(decision.errors, [expected]);
    }
}

#[test]
fn evaluation_errors_are_reported_and_skip_the_policy() {
    let engine = World::new()
        .policy(
            "overflow.cedar",
            "permit(principal, action, resource) when { context.now.unix + 9223372036854775807 > 0 };",
        )
        .engine();
    let decision = call("intern-bot", "wiki.read", "wiki").on(&engine);
    assert!(!decision.allowed);
    assert_eq!(decision.errors.len(), 1, "{decision:?}");
    assert!(
        decision.errors.iter().all(|e| e.contains("overflow:0")),
        "{decision:?}"
    );
}

#[test]
fn decisions_are_the_same_from_many_threads() {
    let engine = World::new()
        .policy("base.cedar", TRIAGE_READS_TICKETS)
        .engine();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..100 {
                    assert!(
                        call("triage-bot", "ticket.read", "tickets")
                            .on(&engine)
                            .allowed
                    );
                    assert!(
                        !call("intern-bot", "ticket.read", "tickets")
                            .on(&engine)
                            .allowed
                    );
                }
            });
        }
    });
}

#[test]
fn a_tier_annotation_on_an_allowing_permit_raises_the_tier() {
    let engine = World::new()
        .policy(
            "tiers.cedar",
            r#"@tier("medium")
permit(principal, action in Gatehouse::Action::"write", resource);
@tier("high")
permit(principal, action == Gatehouse::Action::"deploy.run", resource);
permit(principal, action in Gatehouse::Action::"read", resource);"#,
        )
        .engine();
    let create = call("intern-bot", "ticket.create", "tickets").on(&engine);
    assert_eq!(create.tier, Some(Tier::Medium), "{create:?}");
    let deploy = call("intern-bot", "deploy.run", "deployer").on(&engine);
    assert_eq!(deploy.tier, Some(Tier::High), "{deploy:?}");
    let read = call("intern-bot", "wiki.read", "wiki").on(&engine);
    assert!(read.allowed && read.tier.is_none(), "{read:?}");
}
