//! Agents identified by their client certificate (mutual TLS on the data plane): the
//! X.509-SVID's SPIFFE ID, already verified against `client_ca_file` by the handshake,
//! is looked up in the same agent registry as assertions' subjects.

use gatehouse_core::config::Agent;
use gatehouse_core::refusal::{AuthFailure, Refusal};

use crate::pipeline::record::EventDraft;
use crate::state::State;

/// The registered agent `svid` names; an unknown one is refused like an unknown
/// assertion subject (the event keeps which certificate it was).
pub(super) fn agent<'a>(
    state: &'a State,
    svid: &str,
    draft: &mut EventDraft,
) -> Result<&'a Agent, Refusal> {
    draft.agent(svid.into());
    draft.note("identified by its client certificate");
    state.config.agents.get(svid).ok_or_else(|| {
        draft.note("no agent is registered under the certificate's SPIFFE ID");
        Refusal::InvalidAssertion(AuthFailure::UnknownAgent)
    })
}

/// An assertion for one agent sent over a connection authenticated as another.
pub(super) fn mismatch(draft: &mut EventDraft, svid: &str) -> Refusal {
    draft.note(&format!(
        "the assertion's agent is not the client certificate's `{svid}`"
    ));
    Refusal::InvalidAssertion(AuthFailure::UnknownKey)
}
