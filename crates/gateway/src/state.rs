//! Everything a request reads, built once at start-up and shared read-only (the
//! credential cache is the one interior-mutable part, and it only memoises).

use std::sync::Arc;

use gatehouse_core::clock::{SharedClock, UnixTime};
use gatehouse_core::config::{Config, Route, Tool};
use gatehouse_core::ids::DecisionId;
use gatehouse_core::model::ToolName;
use gatehouse_core::path::RouteTable;
use gatehouse_policy::PolicyEngine;
use gatehouse_store::Store;
use http::{HeaderName, HeaderValue};

use crate::approvals::Approvals;
pub use crate::config_map::ConfigMap;
use crate::credential::CredentialCache;
use crate::events::{Emitter, EmitterParts, EventSink};
use crate::keys::KeyRing;
use crate::notify::Notifier;
use crate::quarantines::Quarantines;
use crate::revocations::Revocations;
use crate::secrets::Secrets;
use crate::upstream::UpstreamClient;
use crate::workflows::Workflows;

/// A tool with its routes indexed for lookup.
#[derive(Debug)]
pub struct ToolRuntime {
    pub tool: Tool,
    /// Maps (method, path) to an index into `tool.routes`.
    pub routes: RouteTable<usize>,
    /// The upstream's `Host` header and the name of its credential header, built once
    /// rather than per call; `None` when the configured text is not a valid header, and
    /// every call to the tool then ends in an internal error naming which.
    pub host: Option<HeaderValue>,
    pub auth_header: Option<HeaderName>,
    /// For an `https://` tool: its TLS client, built once.
    pub tls: Option<crate::upstream::TlsTarget>,
}

impl ToolRuntime {
    fn new(tool: Tool) -> Self {
        let entries = tool
            .routes
            .iter()
            .enumerate()
            .map(|(index, route)| (route.method.clone(), route.template.clone(), index))
            .collect();
        Self {
            routes: RouteTable::new(entries),
            host: HeaderValue::from_str(&tool.upstream.authority).ok(),
            tls: tool
                .upstream
                .tls
                .as_ref()
                .and_then(|tls| crate::upstream::TlsTarget::new(&tool.upstream.authority, tls)),
            auth_header: tool
                .auth
                .as_ref()
                .and_then(|auth| HeaderName::from_bytes(auth.header.as_bytes()).ok()),
            tool,
        }
    }

    pub fn route(&self, index: usize) -> Option<&Route> {
        self.tool.routes.get(index)
    }
}

/// Shared runtime state.
#[derive(Debug)]
pub struct State {
    pub config: Config,
    /// The policy set in force, swapped whole on reload (`policies.rs`).
    pub policy: crate::policies::Policies,
    /// The tools and segments in observe mode, read again on reload (`observe.rs`).
    pub observe: crate::observe::Observe,
    pub keys: KeyRing,
    pub store: Arc<dyn Store>,
    pub events: EventSink,
    /// The record phase's share of the parts here (the sink, clock, metrics, secrets,
    /// anonymous sampling) and the id generator.
    pub emitter: Arc<Emitter>,
    pub clock: SharedClock,
    pub credentials: CredentialCache,
    pub tools: ConfigMap<ToolName, ToolRuntime>,
    pub upstream: UpstreamClient,
    pub workflows: Workflows,
    /// Token exchanges' `jti` claims and workflow creations, written in batches.
    pub admissions: crate::admissions::Admissions,
    pub revocations: Arc<Revocations>,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Loaded from the store by the server at start (`Quarantines::restore`).
    pub quarantines: Arc<Quarantines>,
    /// The agents and workflows whose calls are recorded whole (`forensics.rs`).
    pub forensics: crate::forensics::Forensics,
    pub secrets: Arc<Secrets>,
    pub notifier: Notifier,
    pub approvals: Approvals,
    /// Signed-in web console sessions.
    pub console: crate::sessions::Sessions,
    /// MCP upstream clients and agent sessions.
    pub mcp: crate::mcp_state::Mcp,
    /// Whether other replicas' changes reach this one (on a shared store).
    pub feed: crate::feed::Feed,
    /// Turns true when shutdown stops waiting for in-flight calls: they are cut, and
    /// their events recorded, before the process exits.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Per-peer limits on `POST /v1/token`.
    pub token_throttle: crate::throttle::Throttle,
    /// Unauthenticated requests, sampled into events.
    pub anonymous: Arc<crate::anonymous::AnonymousEvents>,
    /// What each configured event sink has delivered (`sinks.rs`).
    pub sinks: crate::sinks::SinkStatuses,
    /// Open live tails of the event log (`tail.rs`), ended first at shutdown.
    pub tails: crate::tail::Tails,
    /// What cuts a call in flight (`pipeline/cancel.rs`), over the same parts.
    pub cuts: Arc<crate::revocations::Cuts>,
    /// Per-agent baselines and the calls counted since the last flush (`baselines.rs`).
    pub baselines: Arc<crate::baselines::Baselines>,
}

/// What [`State::new`] is built from.
#[derive(Debug)]
pub struct Parts {
    pub config: Config,
    pub policy: PolicyEngine,
    pub keys: KeyRing,
    pub store: Arc<dyn Store>,
    pub events: EventSink,
    pub clock: SharedClock,
    pub revocations: Revocations,
}

impl State {
    pub fn new(parts: Parts) -> Self {
        let Parts {
            config,
            policy,
            keys,
            store,
            events,
            clock,
            revocations,
        } = parts;
        let tools = config
            .tools
            .values()
            .map(|tool| (tool.name.clone(), ToolRuntime::new(tool.clone())))
            .collect();
        let upstream = UpstreamClient::new(config.gateway.limits.upstream_timeout);
        let secrets = Arc::new(Secrets::from_config(&config));
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let anonymous = Arc::new(crate::anonymous::AnonymousEvents::new(
            config.gateway.anonymous_events_per_minute,
        ));
        let baselines = Arc::new(crate::baselines::Baselines::new(
            config.baseline.clone(),
            Arc::clone(&store),
        ));
        let emitter = Arc::new(Emitter::new(EmitterParts {
            baselines: Arc::clone(&baselines),
            clock: clock.clone(),
            sink: events.clone(),
            metrics: Arc::clone(&metrics),
            secrets: Arc::clone(&secrets),
            anonymous: Arc::clone(&anonymous),
        }));
        let revocations = Arc::new(revocations);
        let quarantines = Arc::new(Quarantines::default());
        let stopping = tokio::sync::watch::Sender::new(false);
        let cuts = Arc::new(crate::revocations::Cuts {
            revocations: Arc::clone(&revocations),
            quarantines: Arc::clone(&quarantines),
            clock: clock.clone(),
            stopping: stopping.subscribe(),
        });
        let notifier = Notifier::new(config.notifications.webhook.as_ref(), &upstream);
        let observe = crate::observe::Observe::new(config.observe.clone());
        Self {
            observe,
            approvals: Approvals::new(Arc::clone(&store)),
            console: crate::sessions::Sessions::default(),
            mcp: crate::mcp_state::Mcp::start(&config, &upstream),
            token_throttle: crate::throttle::Throttle::new(
                config.gateway.limits.token_rate_per_peer,
                config.gateway.limits.token_burst_per_peer,
            ),
            anonymous,
            emitter,
            cuts,
            sinks: crate::sinks::SinkStatuses::new(&config.sinks),
            tails: crate::tail::Tails::default(),
            baselines,
            workflows: Workflows::new(Arc::clone(&store)),
            admissions: crate::admissions::Admissions::new(Arc::clone(&store)),
            revocations,
            quarantines,
            forensics: crate::forensics::Forensics::default(),
            metrics,
            secrets,
            notifier,
            config,
            policy: crate::policies::Policies::new(policy),
            keys,
            store,
            events,
            clock,
            credentials: CredentialCache::default(),
            stopping,
            tools,
            upstream,
            feed: crate::feed::Feed::default(),
        }
    }

    /// What verifying a task credential reads, at the current time.
    pub fn verifier(&self) -> crate::credential::Verifier<'_> {
        crate::credential::Verifier {
            keys: &self.keys,
            cache: &self.credentials,
            audience: &self.config.gateway.audience,
            agents: &self.config.agents,
            now: self.clock.now(),
        }
    }

    /// What the budget phase reads.
    pub fn budgets(&self) -> crate::workflows::Budgets<'_> {
        crate::workflows::Budgets {
            clock: &self.clock,
            store: &self.store,
            pauses: self.pauses(),
        }
    }

    /// Whom a workflow's pause is told.
    pub fn pauses(&self) -> crate::workflows::Pauses<'_> {
        crate::workflows::Pauses {
            metrics: &self.metrics,
            agents: &self.config.agents,
            notifier: &self.notifier,
        }
    }

    /// A fresh decision id.
    pub fn next_id(&self) -> DecisionId {
        self.emitter.next_id()
    }

    /// A fresh decision id for a call that already read the clock at `now`.
    pub fn next_id_at(&self, now: UnixTime) -> DecisionId {
        self.emitter.next_id_at(now)
    }

    /// What the tier phase reads to ask for a confirmation or park a call.
    pub fn checkpoints(&self) -> crate::approvals::Checkpoints<'_> {
        crate::approvals::Checkpoints {
            approvals: &self.approvals,
            notifier: &self.notifier,
            settings: &self.config.approvals,
            clock: &self.clock,
        }
    }

    /// What starting a call's forensic recording reads.
    pub fn tap(&self) -> crate::forensics::Tap<'_> {
        crate::forensics::Tap {
            forensics: &self.forensics,
            clock: &self.clock,
            config: &self.config,
            secrets: &self.secrets,
            store: &self.store,
        }
    }
}
