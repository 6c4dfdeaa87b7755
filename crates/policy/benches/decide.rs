//! `decide` latency at 10, 100 and 1000 policies with a warm scope cache, next to the
//! same decisions evaluated against the full policy set (what Cedar does unindexed).
//!
//! The calls of one workflow within one second share their Cedar `context` record (the
//! engine caches it); the "new context" columns give every timed call a workflow of its
//! own, so each one builds its record, as the first call of a workflow in a second does.
//!
//! Run with `cargo bench -p gatehouse-policy`.

#![expect(clippy::print_stdout, reason = "a benchmark prints its table")]

#[path = "../tests/policy/fixture.rs"]
mod fixture;

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use gatehouse_core::clock::UnixTime;
use gatehouse_core::config::Config;
use gatehouse_core::model::{Access, AgentId, AttrValue, Intent, Tier, ToolName};
use gatehouse_policy::{DecisionContext, DecisionRequest, PolicyEngine};

const AGENTS: usize = 500;
const GROUPS: usize = 50;
const INTENTS: usize = 100;
const TOOLS: usize = 50;
const SEGMENTS: usize = 4;
const CALLS: usize = 1024;
const ROUNDS: usize = 200;

const SCHEMA: &str = "namespace Gatehouse {
  entity Group;
  entity Agent in [Group] { team: String };
  entity Segment;
  entity Tool in [Segment];
}";

/// A small deterministic generator, so every run measures the same policies.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).unwrap_or(0)
    }
}

type Triple = (AgentId, Intent, ToolName);

fn main() -> Result<(), Box<dyn Error>> {
    println!(
        "policies | decide p50 | decide p99 | new context p50 | new context p99 | full set p50 | full set p99"
    );
    println!(
        "-------- | ---------- | ---------- | --------------- | --------------- | ------------ | ------------"
    );
    for count in [10, 100, 1000] {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (config, triples) = world(count, &mut rng);
        let engine = PolicyEngine::build(&config)?;
        let decide = |request: &DecisionRequest<'_>| engine.decide(request).allowed;
        let indexed = measure(&triples, Workflows::One, decide);
        let fresh = measure(&triples, Workflows::EachCall, decide);
        let full = measure(&triples, Workflows::One, |request| {
            engine.decide_unindexed(request).allowed
        });
        println!(
            "{count:>8} | {:>10} | {:>10} | {:>15} | {:>15} | {:>12} | {:>12}",
            micros(indexed.0),
            micros(indexed.1),
            micros(fresh.0),
            micros(fresh.1),
            micros(full.0),
            micros(full.1)
        );
    }
    Ok(())
}

/// The configuration with `count` policies, and the calls to measure.
fn world(count: usize, rng: &mut Rng) -> (Config, Vec<Triple>) {
    let mut config = fixture::empty();
    fixture::set_schema(&mut config, SCHEMA);
    for i in 0..AGENTS {
        let groups = [
            format!("g{}", i % GROUPS),
            format!("g{}", (i * 7 + 3) % GROUPS),
        ];
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        let team = ("team", AttrValue::String(format!("team-{}", i % 8)));
        fixture::add_agent(&mut config, &format!("agent-{i}"), &groups, &[team]);
    }
    for i in 0..INTENTS {
        let access = if i % 2 == 0 {
            Access::Read
        } else {
            Access::Write
        };
        fixture::add_intent(&mut config, &format!("intent-{i}"), access);
    }
    for i in 0..TOOLS {
        fixture::add_tool(
            &mut config,
            &format!("tool-{i}"),
            &format!("s{}", i % SEGMENTS),
        );
    }
    let mut triples = Vec::new();
    let text: String = (0..count).map(|i| policy(i, rng, &mut triples)).collect();
    fixture::add_policy(&mut config, "bench.cedar", &text);
    while triples.len() < CALLS {
        let agent = AgentId::new(format!("agent-{}", rng.below(AGENTS)));
        let intent = Intent::new(format!("intent-{}", rng.below(INTENTS)));
        triples.push((
            agent,
            intent,
            ToolName::new(format!("tool-{}", rng.below(TOOLS))),
        ));
    }
    (config, triples)
}

/// Policy `i`: a few broad ones, then mostly narrow ones over one agent or one group.
/// Narrow permits add their own triple to the calls, so some calls are allowed.
fn policy(i: usize, rng: &mut Rng, triples: &mut Vec<Triple>) -> String {
    let (agent, intent, tool) = (rng.below(AGENTS), rng.below(INTENTS), rng.below(TOOLS));
    let (group, segment, other) = (rng.below(GROUPS), rng.below(SEGMENTS), rng.below(INTENTS));
    match i {
        0 => "forbid(principal, action == Gatehouse::Action::\"intent-0\", resource);\n".into(),
        1 => "permit(principal, action in Gatehouse::Action::\"read\", resource in \
              Gatehouse::Segment::\"s0\") when { context.now.hour < 20 };\n"
            .into(),
        2 => "forbid(principal, action in Gatehouse::Action::\"write\", resource) \
              when { context.tier == \"high\" };\n"
            .into(),
        _ if i.is_multiple_of(4) => format!(
            "permit(principal in Gatehouse::Group::\"g{group}\", action in \
             [Gatehouse::Action::\"intent-{intent}\", Gatehouse::Action::\"intent-{other}\"], \
             resource in Gatehouse::Segment::\"s{segment}\") when {{ context.now.hour >= 8 }};\n"
        ),
        _ if i % 4 == 1 => format!(
            "forbid(principal in Gatehouse::Group::\"g{group}\", action == \
             Gatehouse::Action::\"intent-{intent}\", resource) unless {{ context.write }};\n"
        ),
        _ => {
            triples.push((
                AgentId::new(format!("agent-{agent}")),
                Intent::new(format!("intent-{intent}")),
                ToolName::new(format!("tool-{tool}")),
            ));
            format!(
                "permit(principal == Gatehouse::Agent::\"agent-{agent}\", action == \
                 Gatehouse::Action::\"intent-{intent}\", resource == Gatehouse::Tool::\"tool-{tool}\") \
                 when {{ context.tier == \"low\" && principal.team != \"team-7\" }};\n"
            )
        }
    }
}

/// Which workflow the timed calls name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workflows {
    /// All the same one, as a busy workflow's calls are.
    One,
    /// A new one for every timed call, so no call finds its context record cached.
    EachCall,
}

/// p50 and p99 of one decision, after one warm-up pass over every call.
fn measure(
    triples: &[Triple],
    workflows: Workflows,
    decide: impl Fn(&DecisionRequest<'_>) -> bool,
) -> (Duration, Duration) {
    let one = ["wf-1".to_owned()];
    for request in &requests(triples, &one) {
        black_box(decide(request));
    }
    let mut samples = Vec::with_capacity(triples.len() * ROUNDS);
    for round in 0..ROUNDS {
        let names: Vec<String> = match workflows {
            Workflows::One => one.to_vec(),
            Workflows::EachCall => (0..triples.len())
                .map(|call| format!("wf-{round}-{call}"))
                .collect(),
        };
        for request in &requests(triples, &names) {
            let start = Instant::now();
            black_box(decide(black_box(request)));
            samples.push(start.elapsed());
        }
    }
    samples.sort_unstable();
    (percentile(&samples, 50), percentile(&samples, 99))
}

/// One request per triple, naming the workflows of `names` in turn.
fn requests<'a>(triples: &'a [Triple], names: &'a [String]) -> Vec<DecisionRequest<'a>> {
    triples
        .iter()
        .zip(names.iter().cycle())
        .map(|((agent, intent, tool), workflow)| request(agent, intent, tool, workflow))
        .collect()
}

fn request<'a>(
    agent: &'a AgentId,
    intent: &'a Intent,
    tool: &'a ToolName,
    workflow: &'a str,
) -> DecisionRequest<'a> {
    DecisionRequest {
        agent,
        intent,
        tool,
        context: DecisionContext {
            now: UnixTime::from_secs(1_704_110_400),
            workflow,
            task_class: "triage",
            segment: "s0",
            data_class: "internal",
            tier: Tier::Low,
            write: false,
            args: None,
            anomaly: Default::default(),
        },
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let index = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or_default()
}

fn micros(duration: Duration) -> String {
    format!("{:.2} µs", duration.as_secs_f64() * 1e6)
}
