//! The Cedar `context` record of a call, and a small cache of built records.
//!
//! Building a `Context` evaluates every field into Cedar values, which costs more than
//! evaluating a few policies. Without `args` (HTTP routes declaring none) the record
//! depends only on the workflow, task class, segment, data class, tier, access and the
//! current second, so a workflow's calls within one second share one record. The cache is direct-mapped:
//! a fixed number of slots, each holding the last record built for the keys that hash to
//! it, so it never grows and needs no eviction; a collision only means building again.
//! Calls with `args` (MCP, and routes declaring them) always build their own.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};

use cedar_policy::{Context, RestrictedExpression};
use gatehouse_core::baseline::anomaly::AnomalySet;
use gatehouse_core::model::{AttrValue, Tier};

use crate::engine::DecisionContext;

/// Slots in the cache; a power of two well above the workflows active in one second on
/// one gateway, and small enough to stay in cache memory.
const SLOTS: usize = 256;

/// Whether `context.args` carries the call's values or stands for any values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgsIn {
    Known,
    Unknown,
}

/// Built `context` records of argument-less calls, by their inputs.
#[derive(Debug, Default)]
pub(crate) struct ContextCache {
    slots: Slots<Entry>,
}

#[derive(Debug)]
struct Entry {
    key: Key,
    context: Context,
}

/// A fixed number of slots, each holding the last value stored under a hash that maps
/// to it: a cache that never grows and never needs evicting.
#[derive(Debug)]
pub(crate) struct Slots<T> {
    slots: Box<[Mutex<Option<T>>]>,
    /// Seeded per process, so nobody can choose inputs that all land in one slot. A fast
    /// hash rather than SipHash: it runs twice per call, and a slot is only a hint (its
    /// value is compared in full before use).
    seed: foldhash::fast::RandomState,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
            seed: foldhash::fast::RandomState::default(),
        }
    }
}

impl<T> Slots<T> {
    /// A hasher fed with everything an argument-less record depends on; add what else the
    /// value depends on, then `finish` it for [`Slots::find`] and [`Slots::store`].
    pub(crate) fn hasher(
        &self,
        context: &DecisionContext<'_>,
    ) -> foldhash::fast::FoldHasher<'static> {
        let mut hasher = self.seed.build_hasher();
        context.now.secs().hash(&mut hasher);
        context.workflow.hash(&mut hasher);
        context.task_class.hash(&mut hasher);
        context.segment.hash(&mut hasher);
        context.data_class.hash(&mut hasher);
        context.tier.hash(&mut hasher);
        context.write.hash(&mut hasher);
        context.args.hash(&mut hasher);
        context.anomaly.hash(&mut hasher);
        hasher
    }

    /// What `read` makes of the value in the slot of `hash`, if there is one.
    pub(crate) fn find<R>(&self, hash: u64, read: impl FnOnce(&T) -> Option<R>) -> Option<R> {
        let slot = self.slot(hash)?;
        let value = slot.lock().unwrap_or_else(PoisonError::into_inner);
        value.as_ref().and_then(read)
    }

    /// Puts `value` in the slot of `hash`, replacing what was there.
    pub(crate) fn store(&self, hash: u64, value: T) {
        if let Some(slot) = self.slot(hash) {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
        }
    }

    fn slot(&self, hash: u64) -> Option<&Mutex<Option<T>>> {
        // INVARIANT: SLOTS is a power of two, so the mask picks an existing slot.
        self.slots
            .get(usize::try_from(hash).unwrap_or(0) & (SLOTS - 1))
    }
}

/// The inputs of a decision context, owned: what a cached record or a remembered
/// decision must match.
#[derive(Debug)]
pub(crate) struct Key {
    secs: i64,
    workflow: Box<str>,
    task_class: Box<str>,
    segment: Box<str>,
    data_class: Box<str>,
    tier: Tier,
    write: bool,
    /// The call's typed arguments; only small ones are remembered (see
    /// [`small_args`]).
    args: Option<BTreeMap<String, AttrValue>>,
    anomaly: AnomalySet,
}

impl Key {
    pub(crate) fn new(context: &DecisionContext<'_>) -> Self {
        Self {
            secs: context.now.secs(),
            workflow: context.workflow.into(),
            task_class: context.task_class.into(),
            segment: context.segment.into(),
            data_class: context.data_class.into(),
            tier: context.tier,
            write: context.write,
            args: context.args.cloned(),
            anomaly: context.anomaly,
        }
    }

    pub(crate) fn matches(&self, context: &DecisionContext<'_>) -> bool {
        self.secs == context.now.secs()
            && self.tier == context.tier
            && self.write == context.write
            && *self.workflow == *context.workflow
            && *self.task_class == *context.task_class
            && *self.segment == *context.segment
            && *self.data_class == *context.data_class
            && self.args.as_ref() == context.args
            && self.anomaly == context.anomaly
    }
}

impl ContextCache {
    /// The record for `context`: from the cache when it has no `args`, built otherwise.
    pub(crate) fn context(
        &self,
        context: &DecisionContext<'_>,
        args_in: ArgsIn,
    ) -> Result<Context, String> {
        if context.args.is_some() {
            return build(context, args_in);
        }
        let hash = self.slots.hasher(context).finish();
        let cached = self.slots.find(hash, |entry| {
            entry.key.matches(context).then(|| entry.context.clone())
        });
        if let Some(context) = cached {
            return Ok(context);
        }
        let built = build(context, args_in)?;
        let entry = Entry {
            key: Key::new(context),
            context: built.clone(),
        };
        self.slots.store(hash, entry);
        Ok(built)
    }
}

/// The most argument text a remembered decision keeps: an agent repeating a call with a
/// short id or name is common, and anything larger is decided afresh rather than copied
/// into the memo.
const SMALL_ARGS_BYTES: usize = 512;

/// Whether `args` are small enough to remember a decision by.
pub(crate) fn small_args(args: &BTreeMap<String, AttrValue>) -> bool {
    fn size(value: &AttrValue) -> usize {
        match value {
            AttrValue::Bool(_) | AttrValue::Long(_) => 8,
            AttrValue::String(text) => text.len(),
            AttrValue::Set(items) => items.iter().map(size).sum(),
        }
    }
    args.iter()
        .map(|(name, value)| name.len() + size(value))
        .sum::<usize>()
        <= SMALL_ARGS_BYTES
}

/// The `context` record declared by the generated schema.
pub(crate) fn build(context: &DecisionContext<'_>, args_in: ArgsIn) -> Result<Context, String> {
    let secs = context.now.secs();
    let now = RestrictedExpression::new_record([
        ("unix".to_owned(), RestrictedExpression::new_long(secs)),
        (
            "hour".to_owned(),
            RestrictedExpression::new_long(hour(secs)),
        ),
        (
            "weekday".to_owned(),
            RestrictedExpression::new_long(weekday(secs)),
        ),
    ])
    .map_err(|error| format!("invalid context: {error}"))?;
    let text = |value: &str| RestrictedExpression::new_string(value.to_owned());
    let args = match (context.args, args_in) {
        (None, _) => None,
        (Some(_), ArgsIn::Unknown) => Some(RestrictedExpression::new_unknown("args")),
        (Some(args), ArgsIn::Known) => {
            let fields = args
                .iter()
                .map(|(name, value)| (name.clone(), crate::entities::expression(value.clone())));
            let record = RestrictedExpression::new_record(fields)
                .map_err(|error| format!("invalid arguments: {error}"))?;
            Some(record)
        }
    };
    let pairs = [
        ("now".to_owned(), now),
        ("workflow".to_owned(), text(context.workflow)),
        ("task_class".to_owned(), text(context.task_class)),
        ("segment".to_owned(), text(context.segment)),
        ("data_class".to_owned(), text(context.data_class)),
        ("tier".to_owned(), text(context.tier.as_str())),
        (
            "write".to_owned(),
            RestrictedExpression::new_bool(context.write),
        ),
        (
            "anomaly".to_owned(),
            RestrictedExpression::new_set(context.anomaly.iter().map(|a| text(a.as_str()))),
        ),
    ];
    let args = args.map(|args| ("args".to_owned(), args));
    Context::from_pairs(pairs.into_iter().chain(args))
        .map_err(|error| format!("invalid context: {error}"))
}

const DAY: i64 = 86_400;

/// The UTC hour of day, 0–23.
fn hour(secs: i64) -> i64 {
    secs.rem_euclid(DAY) / 3_600
}

/// The UTC day of the week, 0 = Monday (1970-01-01 was a Thursday).
fn weekday(secs: i64) -> i64 {
    (secs.div_euclid(DAY) + 3).rem_euclid(7)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use gatehouse_core::clock::UnixTime;
    use gatehouse_core::model::AttrValue;

    use super::*;

    fn call(now: i64, workflow: &str) -> DecisionContext<'_> {
        DecisionContext {
            now: UnixTime::from_secs(now),
            workflow,
            task_class: "triage",
            segment: "data",
            data_class: "internal",
            tier: Tier::Low,
            write: false,
            args: None,
            anomaly: AnomalySet::EMPTY,
        }
    }

    #[test]
    fn hour_and_weekday_are_utc_with_monday_first() {
        // 2024-01-01 was a Monday.
        let monday_noon = 1_704_110_400;
        assert_eq!(hour(monday_noon), 12);
        assert_eq!(weekday(monday_noon), 0);
        assert_eq!(weekday(monday_noon + 6 * DAY), 6);
        assert_eq!(weekday(0), 3);
        assert_eq!(hour(-1), 23);
        assert_eq!(weekday(-1), 2);
    }

    #[test]
    fn a_cached_record_equals_a_freshly_built_one() {
        let cache = ContextCache::default();
        let noon = 1_704_110_400;
        for now in [noon, noon, noon + 1, noon + 3_600] {
            for workflow in ["wf-1", "wf-2", "wf-1"] {
                let mut request = call(now, workflow);
                for (tier, write) in [(Tier::Low, false), (Tier::High, true)] {
                    request.tier = tier;
                    request.write = write;
                    let cached = cache.context(&request, ArgsIn::Known).unwrap();
                    assert_eq!(cached, build(&request, ArgsIn::Known).unwrap());
                }
            }
        }
    }

    #[test]
    fn a_record_with_arguments_is_built_for_each_call() {
        let cache = ContextCache::default();
        let one = BTreeMap::from([("id".to_owned(), AttrValue::Long(1))]);
        let two = BTreeMap::from([("id".to_owned(), AttrValue::Long(2))]);
        let base = call(1_704_110_400, "wf-1");
        let first = DecisionContext {
            args: Some(&one),
            ..base
        };
        let second = DecisionContext {
            args: Some(&two),
            ..base
        };
        let first = cache.context(&first, ArgsIn::Known).unwrap();
        let second = cache.context(&second, ArgsIn::Known).unwrap();
        assert_ne!(first, second);
        assert_eq!(
            second,
            build(
                &DecisionContext {
                    args: Some(&two),
                    ..base
                },
                ArgsIn::Known
            )
            .unwrap()
        );
        let empty = cache
            .slots
            .slots
            .iter()
            .all(|slot| slot.lock().unwrap().is_none());
        assert!(empty, "a record with arguments was cached");
    }

    #[test]
    fn every_input_is_part_of_the_key() {
        let base = call(1_704_110_400, "wf-1");
        let variants = [
            DecisionContext {
                now: UnixTime::from_secs(1_704_110_401),
                ..base
            },
            DecisionContext {
                workflow: "wf-2",
                ..base
            },
            DecisionContext {
                task_class: "other",
                ..base
            },
            DecisionContext {
                segment: "control",
                ..base
            },
            DecisionContext {
                data_class: "secret",
                ..base
            },
            DecisionContext {
                tier: Tier::Medium,
                ..base
            },
            DecisionContext {
                write: true,
                ..base
            },
        ];
        let key = Key::new(&base);
        assert!(key.matches(&base));
        for variant in &variants {
            assert!(!key.matches(variant), "{variant:?} matched {base:?}");
        }
    }
}
