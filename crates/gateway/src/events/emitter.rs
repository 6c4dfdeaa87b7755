//! What the record phase (`pipeline/record.rs`) reads and writes to open a call's event
//! and emit it: the clock and the id generator (a new event's id and time), the secrets
//! redacted from reasons, the metrics, the sampling of anonymous refusals, and the sink.
//! Built once at start-up over the same parts the state holds, and lent to the phase.

use std::sync::Arc;

use gatehouse_core::clock::{SharedClock, UnixTime};
use gatehouse_core::ids::{DecisionId, IdGenerator};

use crate::anonymous::AnonymousEvents;
use crate::baselines::Baselines;
use crate::events::EventSink;
use crate::metrics::Metrics;
use crate::secrets::Secrets;

/// The record phase's handles, shared by every call (a journaled call holds it until
/// its event is emitted, even when its draft is dropped unfinished).
#[derive(Debug)]
pub struct Emitter {
    /// A judged call's bytes are added to its agent's baseline when its event is emitted.
    pub baselines: Arc<Baselines>,
    pub clock: SharedClock,
    pub sink: EventSink,
    pub metrics: Arc<Metrics>,
    pub secrets: Arc<Secrets>,
    pub anonymous: Arc<AnonymousEvents>,
    ids: IdGenerator,
}

/// What an [`Emitter`] is built from: the parts the state shares with it.
#[derive(Debug)]
pub struct EmitterParts {
    pub baselines: Arc<Baselines>,
    pub clock: SharedClock,
    pub sink: EventSink,
    pub metrics: Arc<Metrics>,
    pub secrets: Arc<Secrets>,
    pub anonymous: Arc<AnonymousEvents>,
}

impl Emitter {
    pub fn new(parts: EmitterParts) -> Self {
        let EmitterParts {
            baselines,
            clock,
            sink,
            metrics,
            secrets,
            anonymous,
        } = parts;
        Self {
            baselines,
            clock,
            sink,
            metrics,
            secrets,
            anonymous,
            ids: IdGenerator::default(),
        }
    }

    /// A fresh decision id.
    pub fn next_id(&self) -> DecisionId {
        self.next_id_at(self.clock.now())
    }

    /// A fresh decision id for a call that already read the clock at `now`.
    pub fn next_id_at(&self, now: UnixTime) -> DecisionId {
        self.ids.next(now)
    }
}
