//! Forensic recordings (issue 14 item 6): the full request and response of one tool call
//! made while forensics was on for its agent or workflow, as it crossed the gateway, with
//! secrets redacted and bodies capped. A recording is an attachment of the call's event:
//! its id is the event's decision id.

use serde::{Deserialize, Serialize};

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    /// The call's decision id (its event's id).
    pub id: String,
    /// When the call arrived, Unix milliseconds.
    pub time_ms: i64,
    pub agent: String,
    pub workflow: String,
    /// The tool or MCP server.
    pub tool: String,
    /// The request as sent on: request line, headers, blank line, body.
    pub request: String,
    /// The response as returned: status line, headers, blank line, body.
    pub response: String,
}
