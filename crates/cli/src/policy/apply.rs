//! `gatehouse policy apply [--message M]` and `gatehouse policy versions`: the running
//! gateway reads its policy files again and puts the set in force if it builds (the one
//! in force stays otherwise), and the record of the sets it loaded.

use anyhow::Context;
use gatehouse_core::clock::UnixTime;
use gatehouse_store::PolicyVersion;
use http::Method;
use serde::Deserialize;

use crate::control::ControlArgs;
use crate::policy::println_out;

#[derive(Debug, Deserialize)]
struct Applied {
    version: String,
    changed: bool,
    /// What observe mode covers after the config file's `enforce` flags were read.
    observe: String,
}

#[derive(Debug, Deserialize)]
struct Listing {
    in_force: String,
    versions: Vec<PolicyVersion>,
}

/// `POST /v1/policies/apply`.
pub(crate) fn apply(control: &ControlArgs, message: Option<&str>) -> anyhow::Result<()> {
    let body = serde_json::json!({ "message": message });
    let answer = control.request(Method::POST, "/v1/policies/apply", Some(body))?;
    let applied: Applied = serde_json::from_value(answer).context("unexpected answer")?;
    if applied.changed {
        println_out(&format!("in force: {}", applied.version));
    } else {
        println_out(&format!(
            "unchanged: {} is already in force",
            applied.version
        ));
    }
    println_out(&format!("observe mode: {}", applied.observe));
    Ok(())
}

/// `GET /v1/policies`, newest first.
pub(crate) fn versions(control: &ControlArgs, json: bool) -> anyhow::Result<()> {
    let answer = control.request(Method::GET, "/v1/policies", None)?;
    if json {
        println_out(&serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let listing: Listing = serde_json::from_value(answer).context("unexpected answer")?;
    for version in &listing.versions {
        let hash = &version.version;
        let marker = if *hash == listing.in_force { "*" } else { " " };
        let at = UnixTime::from_nanos(version.loaded_at_ms.saturating_mul(1_000_000));
        println_out(&format!(
            "{marker} {}  {}  {}  {}",
            hash.get(..16).unwrap_or(hash),
            at.utc_text(),
            version.by,
            version.message.as_deref().unwrap_or("-"),
        ));
    }
    Ok(())
}
