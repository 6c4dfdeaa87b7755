//! MCP: Gatehouse as the one door between MCP clients (agents) and MCP servers. The face
//! (`/mcp/{server}`) speaks Streamable HTTP to agents in both protocol eras; each call
//! walks the data plane's phases; upstreams are reached over HTTP or stdio.

pub use gatehouse_core::mcp::{args, jsonrpc};

pub mod answer;
pub mod call;
pub mod discovery;
pub mod era;
pub mod face;
pub mod methods;

pub use crate::mcp_state::Mcp;
