//! The MCP methods Gatehouse answers for a server: the handshake and discovery, `ping`,
//! listings filtered to what the caller may call, and the gated calls. Anything else is
//! refused as unknown rather than relayed blind: a method Gatehouse does not understand
//! is one it cannot classify.

use serde_json::{Map, Value, json};

use gatehouse_core::config::McpMapping;
use gatehouse_core::mcp::raw::agent::Params;
use gatehouse_core::refusal::Refusal;

use crate::mcp::call::{self, Caller, Gated, Reply, Upcall};
use crate::mcp::era::{self, Era};
use crate::mcp_upstream::Relay;
use crate::mcp_upstream::relay::LOG_LEVELS;
use crate::pipeline::cancel::OnBehalf;
use crate::pipeline::record::EventDraft;

/// Listing pages followed on the server before Gatehouse stops (a looping cursor).
const MAX_PAGES: usize = 50;

/// Answers one request (not `initialize`, which the face handles with its session).
/// `relay` gets the server's notifications about a gated call; other methods relay none.
pub async fn dispatch(
    caller: Caller<'_>,
    era: Era,
    method: &str,
    params: &Params<'_>,
    relay: Option<Relay>,
    draft: &mut EventDraft,
) -> Result<Reply, Refusal> {
    if let Some(kind) = Gated::of(method) {
        return call::gated(caller, kind, params, relay, draft).await;
    }
    let result = match method {
        "ping" => json!({}),
        "server/discover" if era == Era::Modern => discover(caller),
        "tools/list" => list(caller, Listing::Tools, draft).await?,
        "resources/list" => list(caller, Listing::Resources, draft).await?,
        "resources/templates/list" => list(caller, Listing::Templates, draft).await?,
        "prompts/list" => list(caller, Listing::Prompts, draft).await?,
        "completion/complete" => return complete(caller, params, draft).await,
        "logging/setLevel" => set_level(params, draft).map(|()| json!({}))?,
        _ => {
            return Err(Refusal::UnknownMethod {
                method: method.to_owned(),
            });
        }
    };
    Ok(Reply::Result(result))
}

/// What this face offers: tools always (perhaps none visible), resources and prompts
/// only when the configuration maps them.
pub fn capabilities(caller: Caller<'_>) -> Value {
    let mut capabilities = Map::new();
    capabilities.insert("tools".to_owned(), json!({"listChanged": false}));
    if caller.server.resources.is_some() {
        capabilities.insert(
            "resources".to_owned(),
            json!({"listChanged": false, "subscribe": false}),
        );
    }
    if caller.server.prompts.is_some() {
        capabilities.insert("prompts".to_owned(), json!({"listChanged": false}));
    }
    if caller.server.prompts.is_some() || caller.server.resources.is_some() {
        capabilities.insert("completions".to_owned(), json!({}));
    }
    capabilities.insert("logging".to_owned(), json!({}));
    Value::Object(capabilities)
}

fn server_info(caller: Caller<'_>) -> Value {
    json!({
        "name": format!("gatehouse/{}", caller.server.name),
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// The `initialize` result for a handshake-era session.
pub fn initialize(caller: Caller<'_>, version: &str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": capabilities(caller),
        "serverInfo": server_info(caller),
        "instructions": format!(
            "MCP server `{}` behind Gatehouse: tools you are not allowed to call are not listed, and refusals carry a decision id.",
            caller.server.name
        ),
    })
}

/// The `server/discover` result of the stateless era.
fn discover(caller: Caller<'_>) -> Value {
    json!({
        "supportedVersions": [era::MODERN],
        "capabilities": capabilities(caller),
        "_meta": {"io.modelcontextprotocol/serverInfo": server_info(caller)},
    })
}

/// The listings, each filtered by the mapping that gates the matching call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    Tools,
    Resources,
    Templates,
    Prompts,
}

impl Listing {
    fn method(self) -> &'static str {
        match self {
            Self::Tools => "tools/list",
            Self::Resources => "resources/list",
            Self::Templates => "resources/templates/list",
            Self::Prompts => "prompts/list",
        }
    }

    /// The array the result carries.
    fn field(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::Resources => "resources",
            Self::Templates => "resourceTemplates",
            Self::Prompts => "prompts",
        }
    }

    /// The mapping gating an item, by the item's name or URI; `None` hides it.
    fn mapping<'s>(self, caller: Caller<'s>, item: &Value) -> Option<&'s McpMapping> {
        match self {
            Self::Tools => caller.server.tools.get(item.get("name")?.as_str()?),
            Self::Resources | Self::Templates => caller.server.resources.as_ref(),
            Self::Prompts => caller.server.prompts.as_ref(),
        }
    }

    /// The argument a concrete item is decided on: a resource's URI, a prompt's name.
    /// Tools and templates are shown when some arguments could be allowed.
    fn concrete_arg(self, item: &Value) -> Option<(&'static str, String)> {
        match self {
            Self::Resources => Some(("uri", item.get("uri")?.as_str()?.to_owned())),
            Self::Prompts => Some(("name", item.get("name")?.as_str()?.to_owned())),
            Self::Tools | Self::Templates => None,
        }
    }
}

/// The server's whole listing (every page), filtered to what this caller may call.
async fn list(
    caller: Caller<'_>,
    listing: Listing,
    draft: &mut EventDraft,
) -> Result<Value, Refusal> {
    draft.mcp(caller.server, None);
    let hidden_feature = match listing {
        Listing::Tools => caller.server.tools.is_empty(),
        Listing::Resources | Listing::Templates => caller.server.resources.is_none(),
        Listing::Prompts => caller.server.prompts.is_none(),
    };
    if hidden_feature {
        if listing == Listing::Tools {
            draft.note("no tools are mapped");
            return Ok(json!({"tools": []}));
        }
        return Err(Refusal::UnknownMethod {
            method: listing.method().to_owned(),
        });
    }
    let items = fetch_all(caller, listing, draft).await?;
    if listing == Listing::Tools {
        caller.state.mcp.note_tools(&caller.server.name, &items);
    }
    let total = items.len();
    let shown: Vec<Value> = items
        .into_iter()
        .filter(|item| may_call(caller, listing, item))
        .collect();
    draft.note(&format!(
        "listed {} of the server's {total} {}",
        shown.len(),
        listing.field()
    ));
    Ok(json!({ listing.field(): shown }))
}

fn may_call(caller: Caller<'_>, listing: Listing, item: &Value) -> bool {
    let Some(mapping) = listing.mapping(caller, item) else {
        return false;
    };
    match listing.concrete_arg(item) {
        None => call::visible(caller, mapping),
        Some((key, value)) => {
            if !caller.credential.allows(&mapping.intent) {
                return false;
            }
            let args = std::collections::BTreeMap::from([(
                key.to_owned(),
                gatehouse_core::model::AttrValue::String(value),
            )]);
            let verdict = call::decide(caller, mapping, &args);
            verdict.allowed && verdict.errors.is_empty()
        }
    }
}

/// Follows the server's pagination; listings are small and filtering needs them whole.
async fn fetch_all(
    caller: Caller<'_>,
    listing: Listing,
    draft: &mut EventDraft,
) -> Result<Vec<Value>, Refusal> {
    // Listings are not counted, so a workflow that may not spend may not list either.
    crate::pipeline::budget::ensure_active(caller.state.budgets(), caller.workflow)?;
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = match &cursor {
            Some(cursor) => json!({ "cursor": cursor }),
            None => json!({}),
        };
        let on_behalf = OnBehalf::of(caller.credential);
        let reply = call::forward(
            caller.state,
            caller.server,
            caller.workflow,
            on_behalf,
            Upcall::new(listing.method(), params.to_string()),
            draft,
        )
        .await?;
        let result = match reply {
            Reply::Result(result) => result,
            Reply::Raw(raw) => raw.tree()?,
            Reply::Error(error) => {
                return Err(Refusal::UpstreamUnavailable {
                    reason: format!(
                        "`{}` failed on the server: {} ({})",
                        listing.method(),
                        error.message,
                        error.code
                    ),
                });
            }
        };
        let page = result
            .get(listing.field())
            .and_then(Value::as_array)
            .ok_or_else(|| Refusal::UpstreamUnavailable {
                reason: format!(
                    "the server's `{}` result has no `{}` array",
                    listing.method(),
                    listing.field()
                ),
            })?;
        items.extend(page.iter().cloned());
        match result.get("nextCursor").and_then(Value::as_str) {
            Some(next) if Some(next) != cursor.as_deref() => cursor = Some(next.to_owned()),
            _ => return Ok(items),
        }
    }
    Ok(items)
}

/// `completion/complete` suggests values for a prompt's or a resource template's
/// argument, so it reveals what the prompt or resource would: it is relayed only when
/// the caller could get that prompt or read under that template.
async fn complete(
    caller: Caller<'_>,
    params: &Params<'_>,
    draft: &mut EventDraft,
) -> Result<Reply, Refusal> {
    draft.mcp(caller.server, None);
    // A cold path: its nested reference is read from a tree.
    let tree = params.to_map().map_err(call::bad_message)?;
    let reference = tree.get("ref").and_then(Value::as_object);
    let kind = reference
        .and_then(|reference| reference.get("type"))
        .and_then(Value::as_str);
    let (mapping, key, value) = match kind {
        Some("ref/prompt") => (
            caller.server.prompts.as_ref(),
            "name",
            reference.and_then(|r| r.get("name")),
        ),
        Some("ref/resource") => (
            caller.server.resources.as_ref(),
            "uri",
            reference.and_then(|r| r.get("uri")),
        ),
        _ => {
            return Err(Refusal::BadArguments {
                reason: "`params.ref.type` must be `ref/prompt` or `ref/resource`".to_owned(),
            });
        }
    };
    let value = value
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::BadArguments {
            reason: format!("`params.ref.{key}` must be a string"),
        })?;
    let mapping = mapping.ok_or_else(|| Refusal::UnknownMethod {
        method: "completion/complete".to_owned(),
    })?;
    draft.intent(mapping.intent.clone());
    let item = json!({ key: value });
    let listing = if key == "name" {
        Listing::Prompts
    } else {
        Listing::Resources
    };
    if !may_call(caller, listing, &item) {
        return Err(Refusal::PolicyDenied);
    }
    let forwarded =
        call::params::forwarded(params, None).map_err(|error| call::not_json(&error))?;
    let on_behalf = OnBehalf::of(caller.credential);
    call::forward(
        caller.state,
        caller.server,
        caller.workflow,
        on_behalf,
        Upcall::new("completion/complete", forwarded),
        draft,
    )
    .await
}

/// `logging/setLevel` is validated here and never forwarded: the upstream session is
/// shared by every agent, so one agent's level must not change what a server logs for
/// another. The face remembers the level in the agent's session instead, and relays the
/// log messages of that session's gated calls at or above it (see `face::stream`).
fn set_level(params: &Params<'_>, draft: &mut EventDraft) -> Result<(), Refusal> {
    let level = params.str("level");
    match level.as_deref() {
        Some(level) if LOG_LEVELS.contains(&level) => {
            draft.note(&format!("log level `{level}` accepted"));
            Ok(())
        }
        _ => Err(Refusal::BadArguments {
            reason: format!("`params.level` must be one of {}", LOG_LEVELS.join(", ")),
        }),
    }
}
