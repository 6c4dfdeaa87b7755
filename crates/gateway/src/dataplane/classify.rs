//! Phase 2: which tool and route a request names, and so its intent, data class, tier
//! and access. Paths that are ambiguous once decoded are refused, never guessed at.

use gatehouse_core::config::Route;
use gatehouse_core::path::parse_request_path;
use gatehouse_core::refusal::Refusal;
use http::{Method, Uri};

use crate::state::{State, ToolRuntime};

const PREFIX: &str = "/tools/";

/// A classified call.
#[derive(Debug)]
pub struct Call<'a> {
    pub tool: &'a ToolRuntime,
    pub route: &'a Route,
    /// The path below the tool, exactly as received (already proven unambiguous), so
    /// the upstream sees the bytes that were checked rather than a re-encoding.
    pub tool_path: &'a str,
    pub query: Option<&'a str>,
}

pub fn classify<'a>(state: &'a State, method: &Method, uri: &'a Uri) -> Result<Call<'a>, Refusal> {
    let raw = uri.path();
    // The whole path is checked once, so `/tools/../x` or `/tools/a%2f..` never splits
    // oddly; the tool's own path is its tail.
    let whole = parse_request_path(raw.as_bytes()).map_err(|error| Refusal::AmbiguousPath {
        reason: error.to_string(),
    })?;
    let rest = raw.strip_prefix(PREFIX).ok_or(Refusal::NoRoute)?;
    let (tool_name, tool_path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let tool = state
        .tools
        .get(tool_name)
        .ok_or_else(|| Refusal::UnknownTool {
            tool: tool_name.to_owned(),
        })?;
    let safe = whole.below(2);
    let index = tool
        .routes
        .lookup(method.as_str(), &safe)
        .ok_or(Refusal::NoRoute)?;
    let route = tool.route(*index).ok_or(Refusal::NoRoute)?;
    Ok(Call {
        tool,
        route,
        tool_path,
        query: uri.query(),
    })
}
