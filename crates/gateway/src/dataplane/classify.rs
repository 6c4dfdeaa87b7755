//! Phase 2: which tool and route a request names, and so its intent, data class, tier
//! and access. Paths that are ambiguous once decoded are refused, never guessed at.

use std::sync::Arc;

use gatehouse_core::config::Route;
use gatehouse_core::headers::has_method_param;
use gatehouse_core::path::{has_semicolon, parse_request_path};
use gatehouse_core::refusal::Refusal;
use gatehouse_core::risk::RouteRisk;
use http::{Method, Uri};

use crate::pipeline::Target;
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

/// Where a call goes: what the forward phase needs, with or without a route.
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    pub tool: &'a ToolRuntime,
    pub tool_path: &'a str,
    pub query: Option<&'a str>,
    /// The route's response risk settings; `None` for a call no route classified.
    pub risk: Option<&'a Arc<RouteRisk>>,
}

impl<'a> Call<'a> {
    pub fn destination(&self) -> Destination<'a> {
        Destination {
            tool: self.tool,
            tool_path: self.tool_path,
            query: self.query,
            risk: self.route.risk.as_ref(),
        }
    }

    /// What the call reaches, in the pipeline's words.
    pub fn target(&self) -> Target<'a> {
        Target {
            tool: &self.tool.tool.name,
            segment: &self.tool.tool.segment,
            intent: &self.route.intent,
            data_class: &self.route.data_class,
            tier: self.route.tier,
            access: self.route.access,
        }
    }
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
    let query = uri.query();
    check_rewrites(route.matrix_params, route.method_param, tool_path, query)?;
    Ok(Call {
        tool,
        route,
        tool_path,
        query,
    })
}

/// For a call [`classify`] refused `no-route`: its destination when its tool discovers
/// (`discover = true`), so it is forwarded and recorded as a candidate route. The
/// rewrites no route opted into are still refused.
pub fn unrouted<'a>(state: &'a State, uri: &'a Uri) -> Result<Option<Destination<'a>>, Refusal> {
    // Checked by `classify` already; again here so this function stands on its own.
    parse_request_path(uri.path().as_bytes()).map_err(|error| Refusal::AmbiguousPath {
        reason: error.to_string(),
    })?;
    let Some(rest) = uri.path().strip_prefix(PREFIX) else {
        return Ok(None);
    };
    let (tool_name, tool_path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let Some(tool) = state.tools.get(tool_name) else {
        return Ok(None);
    };
    if !state.observe.discovers(&tool.tool.name) {
        return Ok(None);
    }
    let query = uri.query();
    check_rewrites(false, false, tool_path, query)?;
    Ok(Some(Destination {
        tool,
        tool_path,
        query,
        risk: None,
    }))
}

/// What some upstream frameworks would read as another path or method than the one
/// decided, unless the route opts in: a `;` path parameter and a `_method` parameter.
fn check_rewrites(
    matrix_params: bool,
    method_param: bool,
    tool_path: &str,
    query: Option<&str>,
) -> Result<(), Refusal> {
    if !matrix_params && has_semicolon(tool_path) {
        return Err(Refusal::AmbiguousPath {
            reason: "`;` in a path segment (a path parameter to some servers)".to_owned(),
        });
    }
    if !method_param && query.is_some_and(has_method_param) {
        return Err(Refusal::UnsafeRequest {
            reason: "a `_method` query parameter (a method override to some frameworks)".to_owned(),
        });
    }
    Ok(())
}
