//! Domain types of Gatehouse, free of any async runtime, HTTP stack or database.
//!
//! Everything the gateway decides about is named here: who calls ([`model::AgentId`]),
//! what they mean ([`model::Intent`]), where it goes ([`model::ToolName`],
//! [`model::SegmentName`]), how a refusal looks ([`refusal::Refusal`]), what is recorded
//! ([`event::Event`]), plus the parsers that sit at trust boundaries: tokens
//! ([`token`]), request paths ([`path`]) and configuration ([`config`]).

pub mod approval;
pub mod backoff;
pub mod baseline;
pub mod clock;
mod closed_set;
pub mod config;
pub mod escape;
pub mod event;
pub mod form;
pub mod headers;
pub mod ids;
pub mod inventory;
pub mod mcp;
pub mod model;
pub mod path;
pub mod period;
pub mod refusal;
pub mod risk;
pub mod route_args;
pub mod svid;
pub mod token;
pub mod trace;
pub mod workflow;
