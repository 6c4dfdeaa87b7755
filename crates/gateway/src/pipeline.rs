//! The call pipeline, whatever the transport: the phases every gated call walks, in
//! order, as ARCHITECTURE.md, "The request path" names them. The HTTP face (`dataplane`), the MCP face (`mcp`)
//! and approved-call execution (`approved`) each turn their request into a [`Target`]
//! and call these phases; replay runs `decide` again with no request at all.
//!
//! 1. [`authenticate`]: a live credential of a live agent and workflow;
//! 2. [`contain`]: the credential's segment and scope, and no quarantine covering the call;
//!    then [`baseline`]: the call is counted and judged against its agent's baseline;
//! 3. [`decide`]: Cedar, default deny;
//! 4. [`tier`]: confirmation or human approval;
//! 5. [`budget`]: only a call that would be forwarded is counted;
//! 6. [`record`]: the event draft every phase writes into, finished when the call ends;
//!    [`cancel`] cuts a call in flight that must no longer run.
//!
//! Nothing here knows HTTP routes, JSON-RPC or the faces: the faces depend on the
//! pipeline, never the reverse (ARCHITECTURE.md, "Floors"; `scripts/layering.py`).

pub mod authenticate;
pub mod baseline;
pub mod budget;
pub mod cancel;
pub mod contain;
pub mod decide;
pub mod observe;
pub mod record;
pub mod recording;
pub mod risk;
pub mod tier;

use gatehouse_core::model::{Access, DataClass, Intent, SegmentName, Tier, ToolName};

/// What a call reaches and what it means, as classified by its face: an HTTP route of a
/// tool, or a mapped tool, resource or prompt of an MCP server.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The tool, or the MCP server.
    pub tool: &'a ToolName,
    pub segment: &'a SegmentName,
    pub intent: &'a Intent,
    pub data_class: &'a DataClass,
    pub tier: Tier,
    pub access: Access,
}

/// Why a call in flight was cut when shutdown stopped waiting for it.
pub const SHUT_DOWN: &str = "the gateway shut down";
