//! Per-agent baselines at run time (issue 15 item 3; `gatehouse_core::baseline`): each
//! call judged against its agent's learned baseline and counted in memory, the counts
//! added to the store in the background, and the baseline learned again from the store.
//!
//! The call path pays a sharded read lock, one map lookup and a per-(agent, intent)
//! mutex nobody else holds unless the same agent calls the same intent at that instant;
//! it never waits on the store. A tally keeps the current hour (for `rate` and `volume`)
//! and what was counted since the last flush; a failed flush keeps its counts for the
//! next one, so nothing is lost short of a crash (at most one flush interval of counts).

mod tally;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use gatehouse_core::baseline::anomaly::{AnomalySet, Live, Profile};
use gatehouse_core::baseline::{AgentBaseline, HourCount, Window, hour_of};
use gatehouse_core::config::BaselineSettings;
use gatehouse_core::event::Event;
use gatehouse_core::model::{AgentId, Intent, Tier};
use gatehouse_store::{Store, StoreError};

use crate::blocking::store_call;
use tally::Tally;

/// Shards of the tally map: calls of different agents and intents rarely share a lock.
const SHARDS: usize = 16;

type Key = (AgentId, Intent);
type Shard = RwLock<HashMap<Key, Arc<Tally>>>;

/// The baselines in force and the live tallies.
#[derive(Debug)]
pub struct Baselines {
    settings: BaselineSettings,
    store: Arc<dyn Store>,
    /// Each agent's learned profile, swapped whole at each relearning.
    learned: ArcSwap<HashMap<String, Profile>>,
    shards: [Shard; SHARDS],
    seed: foldhash::fast::FixedState,
}

impl Baselines {
    pub fn new(settings: BaselineSettings, store: Arc<dyn Store>) -> Self {
        Self {
            settings,
            store,
            learned: ArcSwap::from_pointee(HashMap::new()),
            shards: std::array::from_fn(|_| Shard::default()),
            seed: foldhash::fast::FixedState::default(),
        }
    }

    pub fn settings(&self) -> &BaselineSettings {
        &self.settings
    }

    /// The window learned over at `now_ms`.
    pub fn window(&self, now_ms: i64) -> Window {
        Window::ending(now_ms, self.settings.window_days)
    }

    /// Counts a call of `intent` by `agent` at `now_ms` and says how it departs from the
    /// agent's baseline (nothing while the baseline is not mature, or when disabled).
    pub fn judge(&self, agent: &AgentId, intent: &Intent, now_ms: i64) -> AnomalySet {
        if !self.settings.enabled {
            return AnomalySet::EMPTY;
        }
        let hour = hour_of(now_ms);
        let (calls, bytes) = self.tally(agent, intent).call(hour);
        let learned = self.learned.load();
        let Some(profile) = learned.get(agent.as_str()) else {
            return AnomalySet::EMPTY;
        };
        let live = Live { hour, calls, bytes };
        profile.judge(intent, live, &self.settings.thresholds)
    }

    /// Adds a judged call's bytes (request and response) to its hour, once it ended.
    pub fn add_bytes(&self, event: &Event) {
        let (Some(agent), Some(intent)) = (&event.agent, &event.intent) else {
            return;
        };
        let bytes = event.bytes_in.saturating_add(event.bytes_out);
        if self.settings.enabled && bytes > 0 {
            self.tally(agent, intent)
                .bytes(hour_of(event.time_ms), bytes);
        }
    }

    /// The tier a call with `anomalies` needs: `tier`, raised to the configured tier
    /// when an anomaly named in `raise_tier_on` is among them.
    pub fn raise(&self, tier: Tier, anomalies: AnomalySet) -> Tier {
        if anomalies.intersects(self.settings.raise_on) {
            tier.max(self.settings.raise_to)
        } else {
            tier
        }
    }

    /// Adds what was counted since the last flush to the store. On failure the counts
    /// stay, to be added by the next flush.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let counts = self.take_pending();
        if counts.is_empty() {
            return Ok(());
        }
        let store = Arc::clone(&self.store);
        let kept = counts.clone();
        let result = store_call("baseline store", move || store.add_hour_counts(&kept)).await;
        if result.is_err() {
            self.put_back(&counts);
        }
        result
    }

    /// Learns every agent's baseline again from the store, over the window at `now_ms`.
    pub async fn learn(&self, now_ms: i64) -> Result<(), StoreError> {
        if !self.settings.enabled {
            return Ok(());
        }
        let window = self.window(now_ms);
        let store = Arc::clone(&self.store);
        let counts = store_call("baseline store", move || store.hour_counts(None, window)).await?;
        self.learned.store(Arc::new(self.profiles(window, &counts)));
        Ok(())
    }

    /// At start: the baseline learned, and the current hour's stored counts taken up,
    /// so a restart neither forgets what was learned nor resets a burst's count.
    pub async fn restore(&self, now_ms: i64) -> Result<(), StoreError> {
        if !self.settings.enabled {
            return Ok(());
        }
        self.learn(now_ms).await?;
        let hour = hour_of(now_ms);
        let current = Window {
            from_hour: hour,
            to_hour: hour + 1,
        };
        let store = Arc::clone(&self.store);
        let counts = store_call("baseline store", move || store.hour_counts(None, current)).await?;
        for count in counts {
            let key = (
                AgentId::new(count.agent.as_str()),
                Intent::new(count.intent.as_str()),
            );
            self.tally(&key.0, &key.1)
                .resume(count.hour, count.calls, count.bytes);
        }
        Ok(())
    }

    fn profiles(&self, window: Window, counts: &[HourCount]) -> HashMap<String, Profile> {
        let thresholds = &self.settings.thresholds;
        // INVARIANT: `hour_counts` orders by agent first, so each agent is one run.
        counts
            .chunk_by(|a, b| a.agent == b.agent)
            .filter_map(|run| run.first().map(|first| (first.agent.clone(), run)))
            .map(|(agent, run)| {
                let learned = AgentBaseline::learn(&agent, window, run);
                (agent, Profile::new(learned, thresholds))
            })
            .collect()
    }

    fn tally(&self, agent: &AgentId, intent: &Intent) -> Arc<Tally> {
        let shard = self.shard(agent, intent);
        let found = shard
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(agent.clone(), intent.clone()))
            .cloned();
        if let Some(tally) = found {
            return tally;
        }
        let mut map = shard
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = map.entry((agent.clone(), intent.clone()));
        Arc::clone(entry.or_default())
    }

    fn shard(&self, agent: &AgentId, intent: &Intent) -> &Shard {
        let mut hasher = self.seed.build_hasher();
        agent.as_str().hash(&mut hasher);
        intent.as_str().hash(&mut hasher);
        let index = usize::try_from(hasher.finish() % SHARDS as u64).unwrap_or(0);
        #[expect(
            clippy::indexing_slicing,
            reason = "the index is taken modulo SHARDS, the array's length"
        )]
        &self.shards[index]
    }

    fn take_pending(&self) -> Vec<HourCount> {
        let mut counts = Vec::new();
        for shard in self.shards.iter() {
            let map = shard
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for ((agent, intent), tally) in map.iter() {
                for (hour, calls, bytes) in tally.take_pending() {
                    counts.push(HourCount {
                        agent: agent.to_string(),
                        intent: intent.to_string(),
                        hour,
                        calls,
                        bytes,
                    });
                }
            }
        }
        counts
    }

    fn put_back(&self, counts: &[HourCount]) {
        for count in counts {
            let key = (
                AgentId::new(count.agent.as_str()),
                Intent::new(count.intent.as_str()),
            );
            self.tally(&key.0, &key.1)
                .put_back(count.hour, count.calls, count.bytes);
        }
    }
}
