//! MCP's trust-boundary parsers, free of I/O: JSON-RPC messages as agents and servers
//! send them (as trees, or borrowed with a server's result kept as written), and a
//! call's arguments typed as policy sees them.

pub mod args;
pub mod jsonrpc;
pub mod raw;
