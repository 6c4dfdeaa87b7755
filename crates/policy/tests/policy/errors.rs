//! Build errors: each names the file and, where Cedar knows it, the line.

use std::path::Path;

use gatehouse_core::model::{Access, AttrValue};
use gatehouse_policy::{PolicyError, PolicyErrorKind};

use crate::fixture;
use crate::harness::{TEAM_SCHEMA, World};

fn only(errors: &[PolicyError]) -> &PolicyError {
    assert_eq!(errors.len(), 1, "{errors:#?}");
    &errors[0]
}

fn is_in(error: &PolicyError, file: &str) -> bool {
    error.file.as_deref() == Some(Path::new(file))
}

#[test]
fn a_parse_error_names_the_file_and_line() {
    let errors = World::new()
        .policy("good.cedar", "permit(principal, action, resource);")
        .policy(
            "bad.cedar",
            "permit(principal, action, resource);\n\npermit(principal, action resource);\n",
        )
        .errors();
    let error = only(&errors);
    assert_eq!(error.kind, PolicyErrorKind::Parse);
    assert!(is_in(error, "bad.cedar"), "{error}");
    assert_eq!(error.line, Some(3), "{error}");
    assert!(error.to_string().starts_with("bad.cedar:3: "), "{error}");
}

#[test]
fn a_validation_error_names_the_file_line_and_policy() {
    let errors = World::new()
        .policy(
            "base.cedar",
            "permit(principal, action, resource);\n\
             permit(principal, action, resource)\n  when { principal.team == \"support\" };\n",
        )
        .errors();
    let error = only(&errors);
    assert_eq!(error.kind, PolicyErrorKind::Validation);
    assert!(is_in(error, "base.cedar"), "{error}");
    assert_eq!(error.line, Some(3), "{error}");
    assert_eq!(error.policy.as_deref(), Some("base:1"));
    assert!(error.message.contains("team"), "{error}");
}

#[test]
fn an_unknown_action_fails_validation() {
    let errors = World::new()
        .policy(
            "base.cedar",
            "\n@id(\"boom\")\npermit(principal, action == Gatehouse::Action::\"ticket.explode\", resource);",
        )
        .errors();
    let error = only(&errors);
    assert_eq!(error.kind, PolicyErrorKind::Validation);
    assert_eq!(error.policy.as_deref(), Some("boom"));
    assert_eq!(error.line, Some(3), "{error}");
}

#[test]
fn every_broken_file_is_reported_at_once() {
    let errors = World::new()
        .policy("a.cedar", "permit(principal, action, resource")
        .policy(
            "b.cedar",
            "forbid(principal, action, resource) when { nonsense };",
        )
        .errors();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(is_in(&errors[0], "a.cedar") && is_in(&errors[1], "b.cedar"));
}

#[test]
fn duplicate_ids_across_files_are_refused() {
    let errors = World::new()
        .policy(
            "a.cedar",
            "@id(\"same\")\npermit(principal, action, resource);",
        )
        .policy(
            "b.cedar",
            "@id(\"same\")\nforbid(principal, action, resource);",
        )
        .errors();
    let error = only(&errors);
    assert_eq!(error.kind, PolicyErrorKind::DuplicateId);
    assert!(is_in(error, "b.cedar"), "{error}");
    assert!(error.message.contains("`a.cedar`"), "{error}");
}

#[test]
fn an_id_may_not_take_a_generated_one() {
    let errors = World::new()
        .policy("a.cedar", "permit(principal, action, resource);")
        .policy(
            "b.cedar",
            "@id(\"a:0\")\nforbid(principal, action, resource);",
        )
        .errors();
    assert_eq!(only(&errors).kind, PolicyErrorKind::DuplicateId);
}

#[test]
fn generated_ids_are_file_stem_and_position() {
    let engine = World::new()
        .policy("policies/extra.cedar", "@id(\"first\")\nforbid(principal, action == Gatehouse::Action::\"deploy.run\", resource);\npermit(principal, action, resource);")
        .engine();
    let decision = crate::harness::call("intern-bot", "wiki.read", "wiki").on(&engine);
    assert_eq!(decision.policies, ["extra:1"]);
    assert_eq!(engine.policy_count(), 2);
}

#[test]
fn templates_are_refused_clearly() {
    let errors = World::new()
        .policy(
            "t.cedar",
            "permit(principal == ?principal, action, resource);",
        )
        .errors();
    let error = only(&errors);
    assert_eq!(error.kind, PolicyErrorKind::Template);
    assert!(is_in(error, "t.cedar"));
    assert!(
        error.message.contains("templates are not supported"),
        "{error}"
    );
}

#[test]
fn a_schema_syntax_error_names_the_schema_file_and_line() {
    let errors = World::new()
        .schema("namespace Gatehouse {\n  entity Group;\n  entity Agent in [Group] { team: };\n}")
        .errors();
    let error = only(&errors);
    assert_eq!(error.kind, PolicyErrorKind::Schema);
    assert!(is_in(error, "schema.cedarschema"), "{error}");
    assert_eq!(error.line, Some(3), "{error}");
}

#[test]
fn a_schema_missing_an_entity_type_is_refused_with_a_hint() {
    let errors = World::new()
        .schema("namespace Gatehouse {\n  entity Group;\n  entity Agent in [Group];\n  entity Segment;\n}")
        .errors();
    let error = only(&errors);
    assert_eq!(error.kind, PolicyErrorKind::Schema);
    assert!(is_in(error, "schema.cedarschema"), "{error}");
    assert!(error.message.contains("Tool"), "{error}");
    assert!(error.message.contains("namespace Gatehouse"), "{error}");
}

#[test]
fn an_intent_named_like_an_action_group_is_refused() {
    let mut world = World::new();
    fixture::add_intent(&mut world.config, "write", Access::Write);
    let error = only(&world.errors()).clone();
    assert_eq!(error.kind, PolicyErrorKind::Schema);
    assert!(error.message.contains("`write`"), "{error}");
}

#[test]
fn an_agent_attribute_of_the_wrong_type_is_refused() {
    let mut world = World::new().schema(TEAM_SCHEMA);
    fixture::add_agent(
        &mut world.config,
        "odd-bot",
        &[],
        &[("team", AttrValue::Long(7))],
    );
    let error = only(&world.errors()).clone();
    assert_eq!(error.kind, PolicyErrorKind::Entities);
    assert!(error.message.contains("odd-bot"), "{error}");
}

#[test]
fn the_schema_text_combines_user_types_and_generated_actions() {
    let engine = World::new().schema(TEAM_SCHEMA).engine();
    let text = engine.schema_text();
    assert!(text.contains("team: String"), "{text}");
    assert!(
        text.contains(r#"action "ticket.create" in [Action::"write"]"#),
        "{text}"
    );
    assert!(text.contains("type Context"), "{text}");
    let parsed = cedar_policy::Schema::from_cedarschema_str(&text);
    assert!(parsed.is_ok(), "{text}");
}

#[test]
fn without_a_schema_the_default_declares_bare_entity_types() {
    let text = World::new().engine().schema_text();
    assert!(text.contains("entity Agent in [Group]"), "{text}");
    assert!(text.contains("entity Tool in [Segment]"), "{text}");
    assert!(!text.contains("team"), "{text}");
}

#[test]
fn a_tier_annotation_must_name_a_tier() {
    let errors = World::new()
        .policy(
            "tiers.cedar",
            "@tier(\"hgh\")\npermit(principal, action, resource);",
        )
        .errors();
    let error = only(&errors);
    assert_eq!(error.kind, PolicyErrorKind::Validation);
    assert!(is_in(error, "tiers.cedar"), "{error}");
    assert_eq!(error.policy.as_deref(), Some("tiers:0"));
    assert!(error.message.contains("`@tier(\"hgh\")`"), "{error}");
}
