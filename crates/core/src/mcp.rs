//! MCP's trust-boundary parsers, free of I/O: JSON-RPC messages as agents and servers
//! send them, and a call's arguments typed as policy sees them.

pub mod args;
pub mod jsonrpc;
