//! MCP intents: typed `context.args`, argument constraints, `@tier` raised by arguments,
//! and least visibility (`visible`) evaluated with the arguments unknown.

use gatehouse_core::config::{ArgKind, ArgSpec, Config, IntentInfo, Surface};
use gatehouse_core::model::{Access, Intent};
use gatehouse_core::model::{AttrValue, Tier};

use crate::fixture;
use crate::harness::{World, allowed_by, call};

fn text(value: &str) -> AttrValue {
    AttrValue::String(value.to_owned())
}

fn world() -> World {
    let mut world = World::new();
    fixture::add_tool(&mut world.config, "db", "data");
    add_mcp_intent(
        &mut world.config,
        "db.query",
        &[
            ("table", ArgKind::String, true),
            ("limit", ArgKind::Long, false),
        ],
    );
    add_mcp_intent(
        &mut world.config,
        "fs.write",
        &[("path", ArgKind::Path, true)],
    );
    world
}

const TABLES: &str = r#"
@id("query-listed-tables")
permit (principal in Gatehouse::Group::"triage", action == Gatehouse::Action::"db.query", resource)
when { ["tickets", "customers"].contains(context.args.table) };

@id("big-queries-need-approval")
@tier("high")
permit (principal in Gatehouse::Group::"triage", action == Gatehouse::Action::"db.query", resource)
when { ["tickets", "customers"].contains(context.args.table) && context.args has limit && context.args.limit > 1000 };

@id("write-reports")
permit (principal in Gatehouse::Group::"triage", action == Gatehouse::Action::"fs.write", resource);

@id("no-writes-outside-reports")
forbid (principal, action == Gatehouse::Action::"fs.write", resource)
unless { context.args.path like "/srv/reports/*" };
"#;

#[test]
fn an_argument_constraint_allows_one_call_and_refuses_its_neighbour() {
    let engine = world().policy("mcp.cedar", TABLES).engine();
    let query = |table: &str| call("triage-bot", "db.query", "db").args(&[("table", text(table))]);
    assert!(allowed_by(
        &query("tickets").on(&engine),
        &["query-listed-tables"]
    ));
    let refused = query("payroll").on(&engine);
    assert!(!refused.allowed, "{refused:?}");
    assert!(refused.errors.is_empty(), "{refused:?}");
}

#[test]
fn arguments_can_raise_the_tier() {
    let engine = world().policy("mcp.cedar", TABLES).engine();
    let small = call("triage-bot", "db.query", "db")
        .args(&[("table", text("tickets")), ("limit", AttrValue::Long(10))])
        .on(&engine);
    assert!(small.allowed && small.tier.is_none(), "{small:?}");
    let big = call("triage-bot", "db.query", "db")
        .args(&[("table", text("tickets")), ("limit", AttrValue::Long(5000))])
        .on(&engine);
    assert!(big.allowed, "{big:?}");
    assert_eq!(big.tier, Some(Tier::High));
}

#[test]
fn a_path_forbid_holds_outside_its_directory() {
    let engine = world().policy("mcp.cedar", TABLES).engine();
    let write = |path: &str| call("triage-bot", "fs.write", "db").args(&[("path", text(path))]);
    assert!(allowed_by(
        &write("/srv/reports/q3.txt").on(&engine),
        &["write-reports"]
    ));
    let outside = write("/etc/passwd").on(&engine);
    assert!(!outside.allowed);
    assert_eq!(outside.policies, ["no-writes-outside-reports"]);
}

#[test]
fn reading_an_undeclared_argument_fails_validation() {
    let errors = world()
        .policy(
            "bad.cedar",
            r#"permit (principal, action == Gatehouse::Action::"db.query", resource)
               when { context.args.schema == "public" };"#,
        )
        .errors();
    assert!(!errors.is_empty());
    // HTTP intents have no `args` at all.
    let errors = world()
        .policy(
            "bad.cedar",
            r#"permit (principal, action == Gatehouse::Action::"ticket.read", resource)
               when { context.args.table == "x" };"#,
        )
        .errors();
    assert!(!errors.is_empty());
}

#[test]
fn visibility_hides_only_what_no_arguments_could_allow() {
    let engine = world()
        .policy("mcp.cedar", TABLES)
        .policy(
            "deny.cedar",
            r#"@id("interns-never-query")
               forbid (principal == Gatehouse::Agent::"intern-bot", action, resource);"#,
        )
        .engine();
    // Allowed for some tables: visible, though `payroll` would be refused.
    let listing = call("triage-bot", "db.query", "db").args(&[]);
    assert!(engine.visible(&listing.request()));
    // No permit names deploy-bot: hidden.
    let other = call("deploy-bot", "db.query", "db").args(&[]);
    assert!(!engine.visible(&other.request()));
    // An unconditional forbid: hidden.
    let intern = call("intern-bot", "db.query", "db").args(&[]);
    assert!(!engine.visible(&intern.request()));
    // A conditional forbid alone does not hide a permitted tool.
    let write = call("triage-bot", "fs.write", "db").args(&[]);
    assert!(engine.visible(&write.request()));
}

#[test]
fn the_generated_schema_types_each_mcp_intents_arguments() {
    let engine = world().policy("mcp.cedar", TABLES).engine();
    let schema = engine.schema_text();
    assert!(schema.contains("table: String"), "{schema}");
    assert!(schema.contains("limit?: Long"), "{schema}");
    assert!(schema.contains("path: String"), "{schema}");
}

/// An MCP intent whose context carries these typed arguments.
fn add_mcp_intent(config: &mut Config, intent: &str, args: &[(&str, ArgKind, bool)]) {
    let args = args
        .iter()
        .map(|(name, kind, required)| {
            let spec = ArgSpec {
                kind: *kind,
                required: *required,
            };
            ((*name).to_owned(), spec)
        })
        .collect();
    let info = IntentInfo {
        access: Access::Write,
        args: Some(args),
        surface: Surface::Mcp,
    };
    config.intents.insert(Intent::new(intent), info);
}

/// A table name from a small alphabet (listed, unlisted, empty) or a long one.
fn table_name() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        Just("tickets".to_owned()),
        Just("customers".to_owned()),
        Just("payroll".to_owned()),
        Just(String::new()),
        "[a-z]{1,700}",
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Decisions remembered by their arguments are the decisions: a sequence of calls
    /// with repeating and varying arguments (some too long to remember), across two
    /// seconds, through `decide_recent` twice, always equals `decide`.
    #[test]
    fn remembered_decisions_with_arguments_equal_fresh_ones(
        calls in proptest::collection::vec(
            (table_name(), proptest::option::of(0_i64..3000), 0_i64..2, proptest::bool::ANY),
            1..24,
        ),
    ) {
        let engine = world().policy("mcp.cedar", TABLES).engine();
        for (table, limit, second, other_agent) in calls {
            let mut args = vec![("table", text(&table))];
            if let Some(limit) = limit {
                args.push(("limit", AttrValue::Long(limit)));
            }
            let agent = if other_agent { "deploy-bot" } else { "triage-bot" };
            let call = call(agent, "db.query", "db").at(1_700_000_000 + second).args(&args);
            let fresh = call.on(&engine);
            proptest::prop_assert_eq!(&engine.decide_recent(&call.request()), &fresh);
            proptest::prop_assert_eq!(&engine.decide_recent(&call.request()), &fresh);
        }
    }
}
