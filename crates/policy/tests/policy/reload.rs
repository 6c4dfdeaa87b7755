//! An engine built on the one in force (`PolicyEngine::with_policies`, what a reload and
//! a replica following a shared set use) reuses the schema, the entities and the
//! unchanged files' policies, yet decides and fails exactly as a fresh build of the same
//! files would.

use gatehouse_core::config::{Config, PolicyFile};
use gatehouse_policy::PolicyEngine;
use proptest::prelude::*;

use crate::fixture;
use crate::harness::{World, allowed_by, call, denied_by};
use crate::index::{Shape, calls, policy_text, shape, world};

const TRIAGE_READS: &str = r#"permit(principal in Gatehouse::Group::"triage", action, resource);"#;
const NO_DELETES: &str = r#"@id("no-deletes")
forbid(principal, action == Gatehouse::Action::"ticket.delete", resource);"#;

fn files(world: &World) -> Vec<PolicyFile> {
    world.config.policies.clone()
}

fn messages(result: Result<PolicyEngine, gatehouse_policy::PolicyErrors>) -> Vec<String> {
    match result {
        Ok(_) => panic!("built, expected errors"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_file_added_and_removed_again_decides_as_a_fresh_build_would() {
    let base = World::new().policy("base.cedar", TRIAGE_READS);
    let engine = base.engine();
    let both = World::new()
        .policy("base.cedar", TRIAGE_READS)
        .policy("stop.cedar", NO_DELETES);
    let added = engine.with_policies(&files(&both)).unwrap();
    let delete = call("triage-bot", "ticket.delete", "tickets");
    assert!(denied_by(&delete.on(&added), &["no-deletes"]));
    assert_eq!(delete.on(&added), delete.on(&both.engine()));
    assert_eq!(added.version(), both.engine().version());
    assert_eq!(added.policy_count(), 2);

    let removed = added.with_policies(&files(&base)).unwrap();
    assert!(allowed_by(&delete.on(&removed), &["base:0"]));
    assert_eq!(removed.version(), engine.version());
    assert_eq!(removed.schema_text(), engine.schema_text());
}

#[test]
fn a_changed_file_is_parsed_and_validated_again_and_named_in_its_errors() {
    let engine = World::new().policy("base.cedar", TRIAGE_READS).engine();
    let broken = World::new().policy("base.cedar", TRIAGE_READS).policy(
        "stop.cedar",
        "forbid(principal, action == Gatehouse::Action::\"nope\", resource);",
    );
    let errors = messages(engine.with_policies(&files(&broken)));
    assert_eq!(errors, messages(PolicyEngine::build(&broken.config)));
    assert!(
        errors.iter().any(|e| e.contains("stop.cedar")),
        "{errors:?}"
    );

    // The same text under another name is another file: its policies take the new stem.
    let renamed = World::new().policy("renamed.cedar", TRIAGE_READS);
    let moved = engine.with_policies(&files(&renamed)).unwrap();
    let read = call("triage-bot", "ticket.read", "tickets");
    assert!(allowed_by(&read.on(&moved), &["renamed:0"]));
}

#[test]
fn a_new_file_reusing_a_kept_files_id_is_refused_and_the_engine_stays_usable() {
    let engine = World::new()
        .policy("base.cedar", TRIAGE_READS)
        .policy("stop.cedar", NO_DELETES)
        .engine();
    let clash = World::new()
        .policy("base.cedar", TRIAGE_READS)
        .policy("stop.cedar", NO_DELETES)
        .policy("again.cedar", NO_DELETES);
    let errors = messages(engine.with_policies(&clash.config.policies));
    assert!(
        errors.iter().any(|e| e.contains("no-deletes")),
        "{errors:?}"
    );
    assert_eq!(errors, messages(PolicyEngine::build(&clash.config)));
    let delete = call("triage-bot", "ticket.delete", "tickets");
    assert!(denied_by(&delete.on(&engine), &["no-deletes"]));
}

/// What a step does to one of the three files: drop it, keep it as it was, or write it anew.
type Step = [(u8, Vec<Shape>); 3];

fn step() -> impl Strategy<Value = Step> {
    let file = || (0..3_u8, prop::collection::vec(shape(), 0..5));
    [file(), file(), file()]
}

/// The files after `step`, from the texts before it (`None`: no such file).
fn apply(before: &[Option<String>; 3], step: &Step) -> [Option<String>; 3] {
    let mut after: [Option<String>; 3] = [None, None, None];
    for (slot, ((choice, shapes), earlier)) in step.iter().zip(before).enumerate() {
        after[slot] = match choice {
            0 => None,
            1 => earlier.clone(),
            _ => Some(
                shapes
                    .iter()
                    .enumerate()
                    .map(|(i, shape)| policy_text(slot * 10 + i, *shape))
                    .collect(),
            ),
        };
    }
    after
}

fn config_of(texts: &[Option<String>; 3]) -> Config {
    let mut config = world();
    for (slot, text) in texts.iter().enumerate() {
        if let Some(text) = text {
            fixture::add_policy(&mut config, &format!("f{slot}.cedar"), text);
        }
    }
    config
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn a_chain_of_sets_built_on_each_other_decides_like_fresh_builds(
        steps in prop::collection::vec(step(), 1..5),
    ) {
        let mut texts: [Option<String>; 3] = [None, None, None];
        let mut engine = PolicyEngine::build(&world()).unwrap();
        for step in &steps {
            texts = apply(&texts, step);
            let config = config_of(&texts);
            let fresh = PolicyEngine::build(&config).unwrap();
            engine = engine.with_policies(&config.policies).unwrap();
            prop_assert_eq!(engine.version(), fresh.version());
            prop_assert_eq!(engine.policy_count(), fresh.policy_count());
            for call in calls() {
                prop_assert_eq!(call.on(&engine), call.on(&fresh));
            }
        }
    }
}
