//! Phase 2: containment, the cheap static checks that need no policy: the credential's
//! segment is the target's, its intent is in the credential's scope, and no live
//! quarantine covers the call (a quarantine is a deny over every permit).

use gatehouse_core::clock::Clock;
use gatehouse_core::refusal::Refusal;

use crate::credential::Credential;
use crate::pipeline::Target;
use crate::quarantines::{Quarantines, Reach};

/// The credential may reach `target`: same segment, intent in scope, not quarantined.
pub fn contain(
    quarantines: &Quarantines,
    clock: &dyn Clock,
    credential: &Credential,
    target: &Target<'_>,
) -> Result<(), Refusal> {
    if credential.segment != *target.segment {
        return Err(Refusal::SegmentMismatch {
            credential: credential.segment.to_string(),
            tool: target.segment.to_string(),
        });
    }
    if !credential.allows(target.intent) {
        return Err(Refusal::OutOfScope {
            intent: target.intent.to_string(),
        });
    }
    quarantines.check(reach(credential, target), clock)
}

/// What a quarantine may name of this call (checked here, watched in flight).
pub fn reach<'a>(credential: &'a Credential, target: &Target<'a>) -> Reach<'a> {
    Reach {
        agent: &credential.claims.sub,
        tool: target.tool,
        segment: target.segment,
        intent: Some(target.intent),
    }
}
