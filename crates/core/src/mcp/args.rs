//! A call's arguments as policy sees them: only the declared ones, each checked against
//! its declared type before Cedar reads it, so a policy never sees a number where it
//! expects a string, and a `path` is already proven unambiguous.

use std::collections::BTreeMap;

use crate::config::{ArgKind, ArgSpec};
use crate::model::AttrValue;
use serde_json::{Map, Value};

/// The declared arguments of one call, typed; the error names the offending argument.
pub fn typed(
    declared: &BTreeMap<String, ArgSpec>,
    arguments: &Map<String, Value>,
) -> Result<BTreeMap<String, AttrValue>, String> {
    let mut typed = BTreeMap::new();
    for (name, spec) in declared {
        match arguments.get(name) {
            None | Some(Value::Null) if spec.required => {
                return Err(format!("argument `{name}` is required"));
            }
            None | Some(Value::Null) => {}
            Some(value) => {
                let value =
                    convert(spec.kind, value).map_err(|why| format!("argument `{name}` {why}"))?;
                typed.insert(name.clone(), value);
            }
        }
    }
    Ok(typed)
}

fn convert(kind: ArgKind, value: &Value) -> Result<AttrValue, String> {
    match (kind, value) {
        (ArgKind::String, Value::String(text)) => Ok(AttrValue::String(text.clone())),
        (ArgKind::Path, Value::String(text)) => {
            check_path(text)?;
            Ok(AttrValue::String(text.clone()))
        }
        (ArgKind::Long, Value::Number(number)) => number
            .as_i64()
            .map(AttrValue::Long)
            .ok_or_else(|| "must be an integer".to_owned()),
        (ArgKind::Bool, Value::Bool(flag)) => Ok(AttrValue::Bool(*flag)),
        (ArgKind::StringSet, Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(AttrValue::String(text.clone())),
                _ => Err("must be an array of strings".to_owned()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(AttrValue::Set),
        (kind, _) => Err(format!("must be of type `{}`", kind.as_str())),
    }
}

/// An absolute path with no `.` or `..` segment, no empty segment, no backslash and no
/// control character: one spelling per file, so a prefix test in policy holds.
fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("must be an absolute path".to_owned());
    }
    if path.contains('\\') || path.chars().any(char::is_control) {
        return Err("must not contain backslashes or control characters".to_owned());
    }
    let body = path.strip_prefix('/').unwrap_or(path);
    if body.is_empty() {
        return Ok(());
    }
    let body = body.strip_suffix('/').unwrap_or(body);
    if body
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err("must not contain `.`, `..` or empty segments".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(kind: ArgKind, required: bool) -> ArgSpec {
        ArgSpec { kind, required }
    }

    fn declared() -> BTreeMap<String, ArgSpec> {
        BTreeMap::from([
            ("table".to_owned(), spec(ArgKind::String, true)),
            ("limit".to_owned(), spec(ArgKind::Long, false)),
            ("path".to_owned(), spec(ArgKind::Path, false)),
            ("tags".to_owned(), spec(ArgKind::StringSet, false)),
            ("dry".to_owned(), spec(ArgKind::Bool, false)),
        ])
    }

    fn run(arguments: Value) -> Result<BTreeMap<String, AttrValue>, String> {
        let Value::Object(arguments) = arguments else {
            return Err("not an object".to_owned());
        };
        typed(&declared(), &arguments)
    }

    #[test]
    fn declared_arguments_are_typed_and_others_ignored() {
        let typed = run(json!({"table": "t", "limit": 5, "tags": ["a"], "dry": true, "extra": {}}));
        let typed = typed.unwrap_or_default();
        assert_eq!(typed.get("table"), Some(&AttrValue::String("t".to_owned())));
        assert_eq!(typed.get("limit"), Some(&AttrValue::Long(5)));
        assert_eq!(typed.get("dry"), Some(&AttrValue::Bool(true)));
        assert!(!typed.contains_key("extra"));
    }

    #[test]
    fn wrong_types_and_missing_required_arguments_are_refused() {
        assert!(run(json!({})).is_err());
        assert!(run(json!({"table": 1})).is_err());
        assert!(run(json!({"table": "t", "limit": 1.5})).is_err());
        assert!(run(json!({"table": "t", "limit": "5"})).is_err());
        assert!(run(json!({"table": "t", "tags": [1]})).is_err());
        assert!(run(json!({"table": "t", "limit": null})).is_ok());
    }

    #[test]
    fn paths_have_one_spelling() {
        for good in ["/", "/srv/reports/q3.txt", "/srv/reports/"] {
            assert!(check_path(good).is_ok(), "{good}");
        }
        for bad in [
            "srv/x",
            "/srv/reports/../../etc/passwd",
            "/srv/./reports",
            "/srv//reports",
            "/srv\\reports",
            "/srv/re\u{0}ports",
            "",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}
