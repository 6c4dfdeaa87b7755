//! What runs beside the gateway rather than inside it: the example tool and example MCP
//! server the quickstart, tests and benchmarks put behind it, and the small HTTP client
//! the CLI's control-plane verbs and the tests speak with. None of it is on a request's
//! path, so none of it lives in the runtime library.

pub mod client;
pub mod example_mcp;
pub mod example_tool;
