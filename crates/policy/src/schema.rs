//! The Cedar schema: entity types from the user's fragment (or a generated default),
//! actions and the `Context` record generated from the configuration's intents.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use cedar_policy::{Schema, SchemaFragment};
use gatehouse_core::config::{ArgSpec, Config, PolicyFile, Surface};
use gatehouse_core::model::{Access, Intent};
use serde_json::{Map, Value};

use crate::error::{PolicyError, PolicyErrorKind, PolicyErrors};

/// The namespace every Gatehouse entity type and action lives in.
pub(crate) const NAMESPACE: &str = "Gatehouse";

/// Entity types when the configuration has no schema fragment: no attributes, so
/// policies reading agent attributes fail validation instead of erroring at run time.
const DEFAULT_ENTITIES: &str = "\
// Generated default: the configuration has no schema fragment.
namespace Gatehouse {
  entity Group;
  entity Agent in [Group];
  entity Segment;
  entity Tool in [Segment];
}
";

/// The fields every call's context has; MCP intents and HTTP routes with declared
/// arguments add `args`.
const CONTEXT_FIELDS: &str = "    now: { unix: Long, hour: Long, weekday: Long },
    workflow: String,
    task_class: String,
    segment: String,
    data_class: String,
    tier: String,
    write: Bool,
    anomaly: Set<String>";

const HINT: &str = "the schema fragment declares `Group`, `Agent in [Group]`, `Segment` and \
                    `Tool in [Segment]` in `namespace Gatehouse`; Gatehouse generates the \
                    actions and `Context`";

/// The combined schema and its text.
#[derive(Debug)]
pub(crate) struct BuiltSchema {
    pub(crate) schema: Schema,
    /// One Cedar schema text holding both fragments.
    pub(crate) text: String,
    /// Whether the entity types came from the user (so agents carry their attributes).
    pub(crate) user_declared: bool,
}

/// Parses the user's fragment, generates the actions, and combines both.
pub(crate) fn build(config: &Config) -> Result<BuiltSchema, PolicyErrors> {
    let entities = match &config.schema {
        Some(file) => parse_user(file)?,
        None => parse_generated(DEFAULT_ENTITIES)?,
    };
    let actions = parse_generated(&actions_text(config)?)?;
    let fragments = [entities, actions];
    let schema = Schema::from_schema_fragments(fragments.clone())
        .map_err(|error| combine_error(config.schema.as_ref(), &error))?;
    let text = combined_text(&fragments)?;
    Ok(BuiltSchema {
        schema,
        text,
        user_declared: config.schema.is_some(),
    })
}

/// The generated action declarations and `Context` type.
fn actions_text(config: &Config) -> Result<String, PolicyErrors> {
    let reserved: Vec<PolicyError> = config
        .intents
        .keys()
        .filter(|intent| matches!(intent.as_str(), "read" | "write"))
        .map(|intent| {
            PolicyError::new(
                PolicyErrorKind::Schema,
                format!("intent `{intent}` clashes with the action group of the same name"),
            )
        })
        .collect();
    if !reserved.is_empty() {
        return Err(PolicyErrors(reserved));
    }
    let mut text = String::from("// Generated from the configuration's intents.\n");
    text.push_str("namespace Gatehouse {\n");
    let _ = writeln!(text, "  type Context = {{\n{CONTEXT_FIELDS}\n  }};");
    text.push_str("  action \"read\", \"write\";\n");
    for (index, (intent, info)) in config.intents.iter().enumerate() {
        let context = match &info.args {
            None => "Context".to_owned(),
            Some(args) => {
                let face = match info.surface {
                    Surface::Mcp => "Mcp",
                    Surface::Http => "Route",
                };
                let name = format!("{face}Context{index}");
                push_args_context(&mut text, &name, args);
                name
            }
        };
        push_action(&mut text, intent, info.access, &context);
    }
    text.push_str("}\n");
    Ok(text)
}

fn push_action(text: &mut String, intent: &Intent, access: Access, context: &str) {
    let name = intent.as_str().escape_default();
    let group = access.as_str();
    // Writing to a `String` cannot fail.
    let _ = writeln!(
        text,
        "  action \"{name}\" in [\"{group}\"] appliesTo {{\n    principal: [Agent],\n    \
         resource: [Tool],\n    context: {context}\n  }};"
    );
}

/// The context of an intent with arguments (MCP, or an HTTP route declaring `args`): the
/// common fields plus its declared, typed arguments, so a policy reading an undeclared
/// argument fails validation instead of erroring per call.
fn push_args_context(text: &mut String, name: &str, args: &BTreeMap<String, ArgSpec>) {
    let fields: Vec<String> = args
        .iter()
        .map(|(arg, spec)| {
            let optional = if spec.required { "" } else { "?" };
            format!("\"{arg}\"{optional}: {}", spec.kind.cedar_type())
        })
        .collect();
    let _ = writeln!(
        text,
        "  type {name} = {{\n{CONTEXT_FIELDS},\n    args: {{ {} }}\n  }};",
        fields.join(", ")
    );
}

fn parse_user(file: &PolicyFile) -> Result<SchemaFragment, PolicyErrors> {
    SchemaFragment::from_cedarschema_str(&file.text)
        .map(|(fragment, _warnings)| fragment)
        .map_err(|error| {
            PolicyError::from_diagnostic(
                PolicyErrorKind::Schema,
                Some(&file.path),
                &file.text,
                &error,
            )
            .into()
        })
}

fn parse_generated(text: &str) -> Result<SchemaFragment, PolicyErrors> {
    SchemaFragment::from_cedarschema_str(text)
        .map(|(fragment, _warnings)| fragment)
        .map_err(|error| {
            let message = format!("generated schema does not parse: {error}");
            PolicyError::new(PolicyErrorKind::Schema, message).into()
        })
}

fn combine_error(user: Option<&PolicyFile>, error: &dyn miette::Diagnostic) -> PolicyErrors {
    let message = crate::error::describe(error);
    let error = PolicyError::new(PolicyErrorKind::Schema, format!("{message}; {HINT}"));
    match user {
        Some(file) => error.in_file(&file.path).into(),
        None => error.into(),
    }
}

/// Both fragments as one Cedar schema text: a namespace may appear only once in a text,
/// so their JSON forms are merged namespace by namespace.
fn combined_text(fragments: &[SchemaFragment]) -> Result<String, PolicyErrors> {
    let unprintable = |error: String| {
        PolicyErrors::from(PolicyError::new(
            PolicyErrorKind::Schema,
            format!("combined schema cannot be printed: {error}"),
        ))
    };
    let mut merged = Map::new();
    for fragment in fragments {
        let json = fragment.clone().to_json_value();
        let Value::Object(namespaces) = json.map_err(|e| unprintable(e.to_string()))? else {
            return Err(unprintable("a fragment is not a JSON object".to_owned()));
        };
        for (name, body) in namespaces {
            merge_into(
                merged
                    .entry(name)
                    .or_insert_with(|| Value::Object(Map::new())),
                body,
            );
        }
    }
    let fragment = SchemaFragment::from_json_value(Value::Object(merged))
        .map_err(|e| unprintable(e.to_string()))?;
    let text = fragment
        .to_cedarschema()
        .map_err(|e| unprintable(e.to_string()))?;
    Ok(format!("{HEADER}{text}"))
}

const HEADER: &str = "// Entity types from the schema fragment (or a generated default);\n\
                      // actions and `Context` generated from the configuration.\n";

/// Merges a namespace's sections (`entityTypes`, `actions`, `commonTypes`, …).
fn merge_into(into: &mut Value, from: Value) {
    let (Value::Object(into), Value::Object(from)) = (into, from) else {
        return;
    };
    for (section, entries) in from {
        match (into.get_mut(&section), entries) {
            (Some(Value::Object(existing)), Value::Object(entries)) => existing.extend(entries),
            (_, entries) => {
                into.insert(section, entries);
            }
        }
    }
}
