//! MCP: Gatehouse as the one door between MCP clients (agents) and MCP servers. The face
//! (`/mcp/{server}`) speaks Streamable HTTP to agents in both protocol eras; each call
//! walks the data plane's phases; upstreams are reached over HTTP or stdio.

pub mod args;
pub mod jsonrpc;
pub mod session;
pub mod upstream;
