//! A playbook file: TOML with a description, named parameters with defaults, and ordered
//! steps. Parsed strictly: an unknown key, a missing field or a parameter nobody
//! declared is an error naming the step and the field.
//!
//! A string field whose whole value is `$name` takes the parameter `name`: `agent` comes
//! from `--agent`, every other one from `[params]`, overridden by `--set name=value`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use serde::Deserialize;

use crate::events::parse_age_ms;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaybook {
    description: String,
    #[serde(default)]
    params: BTreeMap<String, String>,
    steps: Vec<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum RawStep {
    RevokeAgent {
        reason: String,
    },
    EndWorkflows {
        reason: String,
    },
    QuarantineTouched {
        /// `tool` or `segment`.
        target: String,
        /// How far back the agent's calls count: `30m`.
        within: String,
        #[serde(rename = "for")]
        hold: String,
        reason: String,
    },
    Quarantine {
        /// `segment`, `tool`, `intent` or `agent`.
        target: String,
        subject: String,
        #[serde(rename = "for")]
        hold: String,
        reason: String,
    },
    ForensicsOn {
        /// How long to record the agent's calls.
        #[serde(rename = "for")]
        hold: String,
        /// JSON fields and header names to redact in the recordings.
        #[serde(default)]
        redact: Vec<String>,
    },
    Notify {
        /// A webhook URL; an empty value skips the step.
        url: String,
    },
}

/// A playbook with its parameters applied.
#[derive(Debug)]
pub(crate) struct Playbook {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) agent: Option<String>,
    pub(crate) steps: Vec<Step>,
}

/// One step, ready to plan.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    RevokeAgent {
        agent: String,
        reason: String,
    },
    EndWorkflows {
        agent: String,
        reason: String,
    },
    QuarantineTouched {
        agent: String,
        target: Target,
        within_ms: i64,
        hold_secs: u64,
        reason: String,
    },
    Quarantine {
        target: Target,
        subject: String,
        hold_secs: u64,
        reason: String,
    },
    ForensicsOn {
        agent: String,
        hold_secs: u64,
        redact: Vec<String>,
    },
    Notify {
        url: Option<String>,
    },
}

/// What a quarantine covers (the control plane's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Segment,
    Tool,
    Intent,
    Agent,
}

impl Target {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Segment => "segment",
            Self::Tool => "tool",
            Self::Intent => "intent",
            Self::Agent => "agent",
        }
    }
}

impl Step {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::RevokeAgent { .. } => "revoke-agent",
            Self::EndWorkflows { .. } => "end-workflows",
            Self::QuarantineTouched { .. } => "quarantine-touched",
            Self::Quarantine { .. } => "quarantine",
            Self::ForensicsOn { .. } => "forensics-on",
            Self::Notify { .. } => "notify",
        }
    }
}

/// Reads `dir/NAME.toml` and applies `agent` and the `--set` values.
pub(crate) fn load(
    dir: &Path,
    name: &str,
    agent: Option<&str>,
    set: &[String],
) -> anyhow::Result<Playbook> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!("`{name}` is not a playbook name (letters, digits, `-` and `_`)");
    }
    let path = dir.join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read playbook `{}`", path.display()))?;
    parse(name, &text, agent, set).with_context(|| format!("in playbook `{}`", path.display()))
}

pub(crate) fn parse(
    name: &str,
    text: &str,
    agent: Option<&str>,
    set: &[String],
) -> anyhow::Result<Playbook> {
    let raw: RawPlaybook = toml::from_str(text).map_err(|error| anyhow!("{}", error.message()))?;
    let params = params(&raw.params, agent, set)?;
    if raw.steps.is_empty() {
        bail!("a playbook needs at least one step");
    }
    let steps = raw
        .steps
        .into_iter()
        .enumerate()
        .map(|(index, table)| step(index + 1, table, &params))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Playbook {
        name: name.to_owned(),
        description: raw.description,
        agent: agent.map(str::to_owned),
        steps,
    })
}

fn params(
    declared: &BTreeMap<String, String>,
    agent: Option<&str>,
    set: &[String],
) -> anyhow::Result<BTreeMap<String, String>> {
    if declared.contains_key("agent") {
        bail!("`params.agent`: `agent` is given with `--agent`, not declared");
    }
    let mut params = declared.clone();
    for pair in set {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("`--set {pair}`: expected NAME=VALUE"))?;
        let slot = params
            .get_mut(key)
            .ok_or_else(|| anyhow!("`--set {key}`: the playbook declares no parameter `{key}`"))?;
        *slot = value.to_owned();
    }
    if let Some(agent) = agent {
        params.insert("agent".to_owned(), agent.to_owned());
    }
    Ok(params)
}

fn step(
    index: usize,
    table: toml::Table,
    params: &BTreeMap<String, String>,
) -> anyhow::Result<Step> {
    let kind = table
        .get("kind")
        .and_then(toml::Value::as_str)
        .unwrap_or("?")
        .to_owned();
    let at = |field: &str| format!("step {index} (`{kind}`), field `{field}`");
    let raw: RawStep = toml::Value::Table(table)
        .try_into()
        .map_err(|error: toml::de::Error| {
            anyhow!("step {index} (`{kind}`): {}", error.message())
        })?;
    let value = |field: &str, text: &str| -> anyhow::Result<String> {
        match text.strip_prefix('$') {
            Some(param) => match params.get(param) {
                None => Err(anyhow!(
                    "{}: no parameter `{param}` (declare it in `[params]`, or pass `--agent`)",
                    at(field)
                )),
                // Only a webhook may be left empty (which skips the notification).
                Some(empty) if empty.is_empty() && field != "url" => Err(anyhow!(
                    "{}: parameter `{param}` is empty: pass `--set {param}=…`",
                    at(field)
                )),
                Some(value) => Ok(value.clone()),
            },
            None => Ok(text.to_owned()),
        }
    };
    let age = |field: &str, text: &str| -> anyhow::Result<i64> {
        let text = value(field, text)?;
        parse_age_ms(&text).map_err(|error| anyhow!("{}: {error}", at(field)))
    };
    let secs = |field: &str, text: &str| -> anyhow::Result<u64> {
        Ok(u64::try_from(age(field, text)? / 1000).unwrap_or(0))
    };
    let target = |field: &str, text: &str, allowed: &[Target]| -> anyhow::Result<Target> {
        let text = value(field, text)?;
        allowed
            .iter()
            .copied()
            .find(|target| target.as_str() == text)
            .ok_or_else(|| anyhow!("{}: `{text}` is not one of {}", at(field), names(allowed)))
    };
    let all = [Target::Segment, Target::Tool, Target::Intent, Target::Agent];
    Ok(match raw {
        RawStep::RevokeAgent { reason } => Step::RevokeAgent {
            agent: value("agent", "$agent")?,
            reason: value("reason", &reason)?,
        },
        RawStep::EndWorkflows { reason } => Step::EndWorkflows {
            agent: value("agent", "$agent")?,
            reason: value("reason", &reason)?,
        },
        RawStep::QuarantineTouched {
            target: kind,
            within,
            hold,
            reason,
        } => Step::QuarantineTouched {
            agent: value("agent", "$agent")?,
            target: target("target", &kind, &[Target::Tool, Target::Segment])?,
            within_ms: age("within", &within)?,
            hold_secs: secs("for", &hold)?,
            reason: value("reason", &reason)?,
        },
        RawStep::Quarantine {
            target: kind,
            subject,
            hold,
            reason,
        } => Step::Quarantine {
            target: target("target", &kind, &all)?,
            subject: value("subject", &subject)?,
            hold_secs: secs("for", &hold)?,
            reason: value("reason", &reason)?,
        },
        RawStep::ForensicsOn { hold, redact } => Step::ForensicsOn {
            agent: value("agent", "$agent")?,
            hold_secs: secs("for", &hold)?,
            redact,
        },
        RawStep::Notify { url } => {
            let url = value("url", &url)?;
            Step::Notify {
                url: (!url.is_empty()).then_some(url),
            }
        }
    })
}

fn names(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|target| format!("`{}`", target.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
description = "test"
[params]
window = "30m"

[[steps]]
kind = "revoke-agent"
reason = "suspected compromise"

[[steps]]
kind = "quarantine-touched"
target = "tool"
within = "$window"
for = "2h"
reason = "x"
"#;

    #[test]
    fn parameters_fill_fields_and_set_overrides_a_default() {
        let playbook = parse("p", GOOD, Some("bot"), &["window=5m".to_owned()]).unwrap();
        assert_eq!(playbook.steps.len(), 2);
        match &playbook.steps[1] {
            Step::QuarantineTouched {
                agent,
                within_ms,
                hold_secs,
                ..
            } => {
                assert_eq!(agent, "bot");
                assert_eq!(*within_ms, 300_000);
                assert_eq!(*hold_secs, 7200);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_step_and_the_field() {
        let error = |text: &str, agent: Option<&str>| {
            format!("{:#}", parse("p", text, agent, &[]).unwrap_err())
        };
        let typo = GOOD.replace("within = ", "witin = ");
        let message = error(&typo, Some("bot"));
        assert!(
            message.contains("step 2 (`quarantine-touched`)") && message.contains("witin"),
            "{message}"
        );
        let message = error(GOOD, None);
        assert!(
            message.contains("step 1 (`revoke-agent`), field `agent`"),
            "{message}"
        );
        let message = error(&GOOD.replace("\"$window\"", "\"soon\""), Some("bot"));
        assert!(
            message.contains("step 2 (`quarantine-touched`), field `within`"),
            "{message}"
        );
        let message = error(&GOOD.replace("\"tool\"", "\"agent\""), Some("bot"));
        assert!(message.contains("field `target`"), "{message}");
        let message = error(
            &GOOD.replace("revoke-agent", "revoke-everyone"),
            Some("bot"),
        );
        assert!(
            message.contains("step 1 (`revoke-everyone`)") && message.contains("unknown variant"),
            "{message}"
        );
        let message = format!(
            "{:#}",
            parse("p", GOOD, Some("b"), &["windw=1m".to_owned()]).unwrap_err()
        );
        assert!(message.contains("no parameter `windw`"), "{message}");
    }

    #[test]
    fn the_shipped_playbooks_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../playbooks");
        for name in ["compromised-agent", "leaked-credential"] {
            let playbook = load(&dir, name, Some("bot"), &[]).unwrap();
            assert!(playbook.steps.len() >= 2, "{name}");
        }
        let lockdown = load(&dir, "segment-lockdown", None, &["segment=data".to_owned()]).unwrap();
        assert!(
            matches!(&lockdown.steps[0], Step::Quarantine { subject, .. } if subject == "data")
        );
        let unset = format!(
            "{:#}",
            load(&dir, "segment-lockdown", None, &[]).unwrap_err()
        );
        assert!(
            unset.contains("step 1 (`quarantine`), field `subject`: parameter `segment` is empty"),
            "{unset}"
        );
    }
}
