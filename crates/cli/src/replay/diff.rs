//! Deciding recorded calls again under candidate policies, and the report of what
//! changed.

use std::collections::BTreeMap;
use std::path::Path;

use gatehouse_core::config::PolicyFile;
use gatehouse_core::event::Event;
use gatehouse_core::model::PolicyId;
use gatehouse_policy::{PolicyEngine, Recorded};
use serde::Serialize;

use crate::Failure;
use crate::replay::fetch::{Pages, Window};
use crate::replay::progress::Progress;

/// The configuration at `config` with its policies replaced by the `.cedar` files in
/// `dir`, validated as `policy check` would (exit 64 when they do not hold up).
pub(crate) fn candidate(config: &Path, dir: &Path) -> Result<PolicyEngine, Failure> {
    let mut loaded = crate::serve::load_config(config)?;
    loaded.policies = read_dir(dir)?;
    PolicyEngine::build(&loaded)
        .map_err(|errors| Failure::Config(format!("invalid candidate policy:\n{errors}")))
}

fn read_dir(dir: &Path) -> Result<Vec<PolicyFile>, Failure> {
    let unreadable = |error: std::io::Error| {
        Failure::Config(format!("cannot read `{}`: {error}", dir.display()))
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cedar"))
        .collect();
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(unreadable)?;
        files.push(PolicyFile { path, text });
    }
    if files.is_empty() {
        return Err(Failure::Config(format!(
            "no `.cedar` policies in `{}`",
            dir.display()
        )));
    }
    Ok(files)
}

/// What replaying a window found.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Report {
    /// Calls decided again.
    pub(crate) replayed: u64,
    /// The decisions that differ, oldest first.
    pub(crate) changed: Vec<Change>,
    /// Calls that could not be decided again, by reason.
    pub(crate) not_replayed: BTreeMap<String, u64>,
}

/// One decision that would change.
#[derive(Debug, Serialize)]
pub(crate) struct Change {
    pub(crate) id: String,
    pub(crate) time_ms: i64,
    pub(crate) agent: Option<String>,
    pub(crate) tool: Option<String>,
    pub(crate) intent: Option<String>,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) before: Verdict,
    pub(crate) after: Verdict,
}

/// A decision and the policies that determined it.
#[derive(Debug, Serialize)]
pub(crate) struct Verdict {
    /// `allow` or `deny`.
    pub(crate) decision: &'static str,
    pub(crate) policies: Vec<PolicyId>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) errors: Vec<String>,
}

pub(crate) fn replay(
    engine: &PolicyEngine,
    pages: Pages<'_>,
    window: &Window<'_>,
) -> Result<Report, Failure> {
    let mut report = Report::default();
    let mut progress = Progress::new();
    for page in pages {
        for event in page? {
            replay_one(engine, &event, &mut report);
            progress.update(window.fraction(event.time_ms), report.replayed);
        }
    }
    progress.finish();
    Ok(report)
}

fn replay_one(engine: &PolicyEngine, event: &Event, report: &mut Report) {
    let recorded = match Recorded::of(event) {
        Ok(recorded) => recorded,
        Err(why) => {
            *report.not_replayed.entry(why.to_string()).or_default() += 1;
            return;
        }
    };
    report.replayed += 1;
    let decision = engine.decide(&recorded.request());
    let allowed = decision.allowed && decision.errors.is_empty();
    if allowed == recorded.allowed() {
        return;
    }
    report.changed.push(Change {
        id: event.id.to_string(),
        time_ms: event.time_ms,
        agent: event.agent.as_deref().map(str::to_owned),
        tool: event.tool.as_deref().map(str::to_owned),
        intent: event.intent.as_deref().map(str::to_owned),
        method: event.method.clone(),
        path: event.path.clone(),
        before: Verdict {
            decision: word(recorded.allowed()),
            policies: event.policies.clone(),
            errors: Vec::new(),
        },
        after: Verdict {
            decision: word(allowed),
            policies: decision.policies,
            errors: decision.errors,
        },
    });
}

fn word(allowed: bool) -> &'static str {
    if allowed { "allow" } else { "deny" }
}

pub(crate) fn text(report: &Report) -> String {
    let mut lines: Vec<String> = report.changed.iter().map(change_line).collect();
    lines.push(format!(
        "{} calls replayed, {} decisions would change",
        report.replayed,
        report.changed.len()
    ));
    for (why, count) in &report.not_replayed {
        lines.push(format!("{count} calls not replayed: {why}"));
    }
    lines.join("\n")
}

fn change_line(change: &Change) -> String {
    let dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    format!(
        "{}  {}  {}  {}  {} {}  intent={}  {} [{}] -> {} [{}]",
        crate::events::utc_time(change.time_ms),
        change.id,
        dash(&change.agent),
        dash(&change.tool),
        change.method,
        change.path,
        dash(&change.intent),
        change.before.decision,
        change.before.policies.join(", "),
        change.after.decision,
        change.after.policies.join(", "),
    )
}
