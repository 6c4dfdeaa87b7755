//! MCP: Gatehouse as the one door between MCP clients (agents) and MCP servers. The face
//! (`/mcp/{server}`) speaks Streamable HTTP to agents in both protocol eras; each call
//! walks the data plane's phases; upstreams are reached over HTTP or stdio.

pub use gatehouse_core::mcp::{args, jsonrpc};

pub mod answer;
pub mod call;
pub mod era;
pub mod face;
pub mod methods;
pub mod session;
pub mod upstream;

/// MCP's share of the runtime: a client per upstream server, and the agents' sessions.
#[derive(Debug)]
pub struct Mcp {
    pub upstreams: upstream::Upstreams,
    pub sessions: session::Sessions,
}

impl Mcp {
    pub fn start(config: &gatehouse_core::config::Config) -> Self {
        Self {
            upstreams: upstream::Upstreams::start(config),
            sessions: session::Sessions::default(),
        }
    }
}
