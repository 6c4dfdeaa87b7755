//! Quarantines held in memory for the hot path (issue 14 item 5): temporary denies on a
//! segment, tool, intent or agent that win over every permit. Loaded from the store at
//! start, written through on change; a change bumps an epoch that in-flight calls
//! watch, so a quarantine also cuts the calls it covers that are already running.
//!
//! With none held, the check is one atomic load: no lock, no clock read.

use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use gatehouse_core::clock::Clock;
use gatehouse_core::model::{Intent, SegmentName, ToolName};
use gatehouse_core::refusal::Refusal;
use gatehouse_store::{Quarantine, QuarantineKind};
use tokio::sync::watch;

/// What a call reaches, as quarantines name it.
#[derive(Debug, Clone, Copy)]
pub struct Reach<'a> {
    pub agent: &'a str,
    /// The tool, or the MCP server.
    pub tool: &'a ToolName,
    pub segment: &'a SegmentName,
    /// `None` for what has no intent (an MCP listing).
    pub intent: Option<&'a Intent>,
}

impl Reach<'_> {
    fn is_covered_by(&self, quarantine: &Quarantine) -> bool {
        let reached = match quarantine.kind {
            QuarantineKind::Agent => Some(self.agent),
            QuarantineKind::Tool => Some(self.tool.as_str()),
            QuarantineKind::Segment => Some(self.segment.as_str()),
            QuarantineKind::Intent => self.intent.map(Intent::as_str),
        };
        reached == Some(quarantine.subject.as_str())
    }

    /// The reach's names but the agent's, owned, for a cancellation that outlives the
    /// call's borrows (the names are shared, so this copies no text).
    pub(crate) fn owned(&self) -> OwnedReach {
        OwnedReach {
            tool: self.tool.clone(),
            segment: self.segment.clone(),
            intent: self.intent.cloned(),
        }
    }
}

/// A [`Reach`] but its agent, owning its names.
#[derive(Debug, Clone)]
pub(crate) struct OwnedReach {
    tool: ToolName,
    segment: SegmentName,
    intent: Option<Intent>,
}

impl OwnedReach {
    pub(crate) fn with<'a>(&'a self, agent: &'a str) -> Reach<'a> {
        Reach {
            agent,
            tool: &self.tool,
            segment: &self.segment,
            intent: self.intent.as_ref(),
        }
    }
}

/// The quarantines in force.
#[derive(Debug)]
pub struct Quarantines {
    /// How many are held (ended ones included until swept): zero spares the lock.
    held: AtomicUsize,
    list: RwLock<Vec<Quarantine>>,
    epoch: watch::Sender<u64>,
}

impl Default for Quarantines {
    fn default() -> Self {
        Self {
            held: AtomicUsize::new(0),
            list: RwLock::new(Vec::new()),
            epoch: watch::Sender::new(0),
        }
    }
}

impl Quarantines {
    /// Replaces what is held with `stored` (at start, from the store).
    pub fn restore(&self, stored: Vec<Quarantine>) {
        self.change(|list| *list = stored);
    }

    /// The id of a live quarantine covering `reach`, if any.
    pub fn covering(&self, reach: Reach<'_>, clock: &dyn Clock) -> Option<String> {
        if self.held.load(Ordering::Acquire) == 0 {
            return None;
        }
        let now_ms = clock.now().millis();
        self.read()
            .iter()
            .find(|quarantine| quarantine.is_live(now_ms) && reach.is_covered_by(quarantine))
            .map(|quarantine| quarantine.id.clone())
    }

    /// The contain phase's check: refused when a live quarantine covers `reach`.
    pub fn check(&self, reach: Reach<'_>, clock: &dyn Clock) -> Result<(), Refusal> {
        match self.covering(reach, clock) {
            Some(id) => Err(Refusal::Quarantined { id }),
            None => Ok(()),
        }
    }

    pub fn add(&self, quarantine: Quarantine) {
        self.change(|list| {
            list.retain(|held| held.id != quarantine.id);
            list.push(quarantine);
        });
    }

    /// Removes one; returns it if it was held.
    pub fn lift(&self, id: &str) -> Option<Quarantine> {
        let mut lifted = None;
        self.change(|list| {
            if let Some(index) = list.iter().position(|held| held.id == id) {
                lifted = Some(list.remove(index));
            }
        });
        lifted
    }

    /// The live ones, newest first.
    pub fn list(&self, now_ms: i64) -> Vec<Quarantine> {
        let mut live: Vec<Quarantine> = self
            .read()
            .iter()
            .filter(|quarantine| quarantine.is_live(now_ms))
            .cloned()
            .collect();
        live.sort_by(|a, b| (b.at_ms, &b.id).cmp(&(a.at_ms, &a.id)));
        live
    }

    /// Removes and returns the ones that have ended by `now_ms`.
    pub fn take_ended(&self, now_ms: i64) -> Vec<Quarantine> {
        if self.held.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        let mut ended = Vec::new();
        self.change(|list| {
            let (gone, kept) = std::mem::take(list)
                .into_iter()
                .partition(|quarantine| !quarantine.is_live(now_ms));
            *list = kept;
            ended = gone;
        });
        ended
    }

    /// Changes whenever a quarantine is added or lifted.
    pub fn epoch(&self) -> watch::Receiver<u64> {
        self.epoch.subscribe()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Quarantine>> {
        self.list
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `edit`, then publishes the new count and moves the epoch.
    fn change(&self, edit: impl FnOnce(&mut Vec<Quarantine>)) {
        {
            let mut list = self
                .list
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            edit(&mut list);
            self.held.store(list.len(), Ordering::Release);
        }
        self.epoch
            .send_modify(|epoch| *epoch = epoch.wrapping_add(1));
    }
}

/// How the reason of a cut by quarantine begins, so that the event of a response cut
/// mid-stream names the refusal `quarantined` rather than a revocation.
pub(crate) const CUT: &str = "quarantine";

/// Resolves, with a reason, once a quarantine covers `reach`; pending otherwise. Checks
/// once at its first poll too, so a quarantine added between the call's contain phase
/// and the start of this watch is not missed.
pub(crate) async fn cut(quarantines: &Quarantines, clock: &dyn Clock, reach: Reach<'_>) -> String {
    let mut epoch = quarantines.epoch();
    loop {
        if let Some(id) = quarantines.covering(reach, clock) {
            return format!("{CUT} `{id}` began");
        }
        if epoch.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_core::clock::{ManualClock, UnixTime};
    use proptest::prelude::*;

    use super::*;

    fn quarantine(id: &str, kind: QuarantineKind, subject: &str, until_ms: i64) -> Quarantine {
        Quarantine {
            id: id.to_owned(),
            kind,
            subject: subject.to_owned(),
            reason: String::new(),
            by: "op".to_owned(),
            at_ms: 0,
            until_ms,
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, u8, u8, i64),
        Lift(u8),
        Sweep,
        Tick(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..4, 0u8..4, 0u8..2, 1i64..100).prop_map(|(id, k, s, d)| Op::Add(id, k, s, d)),
            (0u8..4).prop_map(Op::Lift),
            Just(Op::Sweep),
            (0i64..40).prop_map(Op::Tick),
        ]
    }

    proptest! {
        /// Against a model: a call is refused exactly when some live quarantine names
        /// its agent, tool, segment or intent; lifting and expiry restore it; every
        /// add or lift moves the epoch in-flight calls watch.
        #[test]
        fn quarantines_match_the_model(ops in proptest::collection::vec(op(), 1..60)) {
            let clock = ManualClock::at(UnixTime::from_secs(0));
            let quarantines = Quarantines::default();
            let mut model: Vec<Quarantine> = Vec::new();
            let epoch = quarantines.epoch();
            let mut last_epoch = *epoch.borrow();
            let tools = [ToolName::new("t0"), ToolName::new("t1")];
            let segments = [SegmentName::new("s0"), SegmentName::new("s1")];
            let intents = [Intent::new("i0"), Intent::new("i1")];
            for op in ops {
                let now = clock.now().millis();
                let moves = match op {
                    Op::Add(id, kind, subject, duration) => {
                        let kind = QuarantineKind::ALL[usize::from(kind)];
                        let q = quarantine(&id.to_string(), kind, &format!("{}{subject}", &kind.as_str()[..1]), now + duration);
                        model.retain(|held| held.id != q.id);
                        model.push(q.clone());
                        quarantines.add(q);
                        true
                    }
                    Op::Lift(id) => {
                        let was = model.iter().position(|held| held.id == id.to_string()).map(|i| model.remove(i));
                        prop_assert_eq!(quarantines.lift(&id.to_string()), was);
                        true
                    }
                    Op::Sweep => {
                        let ended = quarantines.take_ended(now);
                        prop_assert!(ended.iter().all(|q| !q.is_live(now)));
                        model.retain(|q| q.is_live(now));
                        !ended.is_empty() || *epoch.borrow() != last_epoch
                    }
                    Op::Tick(ms) => {
                        clock.advance(std::time::Duration::from_millis(ms as u64));
                        false
                    }
                };
                let now_epoch = *epoch.borrow();
                if moves && !matches!(op, Op::Sweep) {
                    prop_assert_ne!(now_epoch, last_epoch);
                }
                last_epoch = now_epoch;
                let now = clock.now().millis();
                for agent in ["a0", "a1"] {
                    for n in 0..2 {
                        for intent in [None, Some(&intents[n])] {
                            let reach = Reach { agent, tool: &tools[n], segment: &segments[1 - n], intent };
                            let expected = model.iter().any(|q| q.is_live(now) && reach.is_covered_by(q));
                            prop_assert_eq!(quarantines.check(reach, &clock).is_err(), expected);
                        }
                    }
                }
            }
        }
    }
}
