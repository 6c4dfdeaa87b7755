//! Raw document → typed [`Config`]: every reference resolved, every value parsed, every
//! problem collected (not just the first) with its field path and line.

mod baseline;
mod identity;
mod mcp;
mod risk;
mod route_args;
mod sinks;
mod tools;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use crate::config::load::line_of;
use crate::config::raw::{RawGateway, RawOperator};
use crate::config::{ApprovalSettings, IntentInfo};
use crate::config::{
    Config, ConfigError, ConfigErrors, GatewaySettings, Limits, Notifications, Observed, Operator,
    PolicyFile, PolicySource, RawConfig, Role, Secret, Segment, StoreLocation,
};
use crate::model::{Intent, SegmentName, ToolName};

/// Collects errors while resolving one config file.
#[derive(Debug)]
pub(crate) struct Resolver<'a> {
    file: PathBuf,
    text: &'a str,
    base_dir: &'a Path,
    errors: Vec<ConfigError>,
    /// `[risk]`, resolved first: routes, MCP tools and task classes refer to it.
    risk_settings: Option<std::sync::Arc<crate::risk::RiskSettings>>,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(file: &Path, text: &'a str, base_dir: &'a Path) -> Self {
        Self {
            file: file.to_path_buf(),
            text,
            base_dir,
            errors: Vec::new(),
            risk_settings: None,
        }
    }

    pub(crate) fn push(&mut self, error: ConfigError) {
        self.errors.push(error);
    }

    pub(crate) fn error_at_field(&mut self, field: &str, message: impl Into<String>) {
        let error = ConfigError::new(&self.file, message).at_field(field);
        self.errors.push(error);
    }

    /// An error about a value whose position in the file is known.
    pub(crate) fn error_at<T>(
        &mut self,
        field: &str,
        spanned: &Spanned<T>,
        message: impl Into<String>,
    ) {
        let mut error = ConfigError::new(&self.file, message).at_field(field);
        let span = spanned.span();
        if span.end > 0 {
            error = error.at_line(line_of(self.text, span.start));
        }
        self.errors.push(error);
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.base_dir.join(relative)
    }

    pub(crate) fn resolve(
        mut self,
        raw: RawConfig,
        policies: Vec<PolicyFile>,
        schema: Option<PolicyFile>,
    ) -> Result<Config, ConfigErrors> {
        let gateway = self.gateway(&raw.gateway);
        self.risk_settings = self.risk(raw.risk.as_ref());
        let segments = segments(&raw);
        let issuers = self.issuers(&raw.issuers);
        let task_classes = self.task_classes(&raw.task_classes, &segments);
        let (tools, mut intents) = self.tools(&raw.tools, &segments);
        let mcp_timeout = Duration::from_millis(raw.gateway.limits.upstream_timeout_ms);
        let mcp_servers = self.mcp_servers(
            &raw.mcp_servers,
            &segments,
            &tools,
            &mut intents,
            mcp_timeout,
        );
        self.check_task_class_intents(&raw.task_classes, &intents);
        let agents = self.agents(&raw.agents, &issuers, &task_classes);
        let operators = self.operators(&raw.operators);
        let notifications = self.notifications(&raw);
        let approvals = self.approvals(&raw, &intents);
        let sinks = self.sinks(&raw.sinks);
        self.check_confirmers(&raw, &operators);
        if policies.is_empty() {
            self.error_at_field(
                "policy.dir",
                "no `*.cedar` policy files found: with no policy every call is denied",
            );
        }
        let observe = observed(&raw);
        self.check_discovery(&raw, &observe);
        let baseline = self.baseline(&raw.baseline);
        if !self.errors.is_empty() {
            return Err(ConfigErrors(self.errors));
        }
        Ok(Config {
            base_dir: self.base_dir.to_path_buf(),
            gateway: gateway.ok_or_else(|| ConfigErrors(Vec::new()))?,
            segments,
            agents,
            issuers,
            task_classes,
            tools,
            mcp_servers,
            intents,
            operators,
            policies,
            observe,
            policy_source: PolicySource {
                config_file: self.file.clone(),
                dir: self.path(&raw.policy.dir),
                watch: (raw.policy.watch_ms > 0)
                    .then(|| Duration::from_millis(raw.policy.watch_ms)),
            },
            schema,
            notifications,
            approvals,
            sinks,
            risk: self.risk_settings.clone(),
            baseline,
        })
    }

    fn gateway(&mut self, raw: &RawGateway) -> Option<GatewaySettings> {
        if raw.audience.trim().is_empty() {
            self.error_at_field("gateway.audience", "must not be empty");
        }
        let data_listen = self.socket_addr("gateway.data_listen", &raw.data_listen);
        let control_listen = self.socket_addr("gateway.control_listen", &raw.control_listen);
        let limits = Limits {
            max_header_bytes: raw.limits.max_header_bytes,
            max_request_body: raw.limits.max_request_body,
            max_response_body: raw.limits.max_response_body,
            upstream_timeout: Duration::from_millis(raw.limits.upstream_timeout_ms),
            max_assertion_lifetime: Duration::from_secs(raw.limits.max_assertion_lifetime_secs),
            idle_timeout: Duration::from_millis(raw.limits.idle_timeout_ms),
            max_data_connections: raw.limits.max_data_connections,
            max_control_connections: raw.limits.max_control_connections,
            token_rate_per_peer: raw.limits.token_rate_per_peer,
            token_burst_per_peer: raw.limits.token_burst_per_peer,
            max_queued_events: raw.limits.max_queued_events,
            response_idle_timeout: Duration::from_millis(raw.limits.response_idle_timeout_ms),
        };
        self.check_limits(&limits);
        let data_dir = self.path(&raw.data_dir);
        let store = self.store_location(raw.store.as_deref(), &data_dir);
        Some(GatewaySettings {
            audience: raw.audience.clone(),
            data_listen: data_listen?,
            control_listen: control_listen?,
            data_dir,
            store: store?,
            max_staleness: Duration::from_millis(raw.max_staleness_ms.max(1)),
            events_file: raw.events_file.as_deref().map(|file| self.path(file)),
            limits,
            secrets_reload: Duration::from_secs(raw.secrets_reload_secs.max(1)),
            event_retention: self.event_retention(raw.event_retention_days),
            anonymous_events_per_minute: raw.anonymous_events_per_minute,
            data_tls: self.listener_tls("data_tls", raw.data_tls.as_ref(), true),
            control_tls: self.listener_tls("control_tls", raw.control_tls.as_ref(), false),
        })
    }

    /// The embedded SQLite file unless `store` names a PostgreSQL database.
    fn store_location(&mut self, store: Option<&str>, data_dir: &Path) -> Option<StoreLocation> {
        let Some(url) = store else {
            return Some(StoreLocation::Sqlite(data_dir.join("gatehouse.db")));
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Some(StoreLocation::Postgres(Secret::new(url.to_owned())));
        }
        self.error_at_field(
            "gateway.store",
            "must be a `postgres://` URL, or left out for the embedded SQLite store",
        );
        None
    }

    fn event_retention(&mut self, days: Option<u64>) -> Option<Duration> {
        let days = days?;
        if days == 0 || days > 36_500 {
            self.error_at_field(
                "gateway.event_retention_days",
                "must be between 1 and 36500 (leave it out to keep every event)",
            );
            return None;
        }
        Some(Duration::from_secs(days.saturating_mul(86_400)))
    }

    fn check_limits(&mut self, limits: &Limits) {
        if limits.max_header_bytes < 1024 {
            self.error_at_field("gateway.limits.max_header_bytes", "must be at least 1024");
        }
        if limits.upstream_timeout.is_zero() {
            self.error_at_field("gateway.limits.upstream_timeout_ms", "must be positive");
        }
        if limits.idle_timeout.is_zero() {
            self.error_at_field("gateway.limits.idle_timeout_ms", "must be positive");
        }
        if limits.response_idle_timeout.is_zero() {
            self.error_at_field(
                "gateway.limits.response_idle_timeout_ms",
                "must be positive",
            );
        }
        if limits.max_queued_events == 0 {
            self.error_at_field("gateway.limits.max_queued_events", "must be positive");
        }
        if limits.max_data_connections == 0 {
            self.error_at_field("gateway.limits.max_data_connections", "must be positive");
        }
        if limits.token_rate_per_peer == 0 || limits.token_burst_per_peer == 0 {
            self.error_at_field(
                "gateway.limits.token_rate_per_peer",
                "`token_rate_per_peer` and `token_burst_per_peer` must be positive",
            );
        }
        if limits.max_control_connections == 0 {
            self.error_at_field("gateway.limits.max_control_connections", "must be positive");
        }
        let lifetime = limits.max_assertion_lifetime.as_secs();
        if lifetime == 0 || lifetime > 300 {
            self.error_at_field(
                "gateway.limits.max_assertion_lifetime_secs",
                "must be between 1 and 300 seconds: assertions are short-lived",
            );
        }
    }

    fn socket_addr(&mut self, field: &str, raw: &Spanned<String>) -> Option<SocketAddr> {
        match raw.get_ref().parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                let message = format!("`{}` is not an `ip:port` address", raw.get_ref());
                self.error_at(field, raw, message);
                None
            }
        }
    }

    fn notifications(&mut self, raw: &RawConfig) -> Notifications {
        let raw = &raw.notifications;
        let Some(url) = &raw.webhook_url else {
            if let Some(ca) = &raw.ca_file {
                self.error_at(
                    "notifications.ca_file",
                    ca,
                    "applies only with `webhook_url`",
                );
            }
            return Notifications::default();
        };
        let Some(parsed) = tools::parse_upstream_url(url.get_ref()) else {
            let message = format!(
                "`{}` is not an `http[s]://host:port/path` URL (no query, no fragment)",
                url.get_ref()
            );
            self.error_at("notifications.webhook_url", url, message);
            return Notifications::default();
        };
        Notifications {
            webhook: Some(self.upstream_ca("notifications", parsed, raw.ca_file.as_ref())),
        }
    }

    fn approvals(
        &mut self,
        raw: &RawConfig,
        intents: &BTreeMap<Intent, IntentInfo>,
    ) -> ApprovalSettings {
        let raw = &raw.approvals;
        let mut two_approvers = std::collections::BTreeSet::new();
        for intent in &raw.two_approvers {
            if intents.contains_key(intent.get_ref().as_str()) {
                two_approvers.insert(Intent::new(intent.get_ref().as_str()));
            } else {
                let message = format!(
                    "unknown intent `{}`: no tool route or MCP mapping names it",
                    intent.get_ref()
                );
                self.error_at("approvals.two_approvers", intent, message);
            }
        }
        if raw.ttl_minutes == 0 || raw.confirmation_ttl_minutes == 0 {
            self.error_at_field(
                "approvals",
                "`ttl_minutes` and `confirmation_ttl_minutes` must be positive",
            );
        }
        ApprovalSettings {
            ttl: Duration::from_secs(raw.ttl_minutes.saturating_mul(60)),
            confirmation_ttl: Duration::from_secs(raw.confirmation_ttl_minutes.saturating_mul(60)),
            forbid_owner: raw.forbid_owner,
            two_approvers,
            max_wait: Duration::from_secs(raw.max_wait_secs.min(300)),
            console_url: raw.console_url.clone(),
        }
    }

    /// A confirmer is an operator of the control plane, never an agent.
    fn check_confirmers(&mut self, raw: &RawConfig, operators: &[Operator]) {
        for (name, class) in &raw.task_classes {
            let Some(confirmer) = &class.confirmer else {
                continue;
            };
            if !operators
                .iter()
                .any(|operator| operator.name == *confirmer.get_ref())
            {
                let message = format!(
                    "unknown operator `{}` (define it under [[operators]])",
                    confirmer.get_ref()
                );
                self.error_at(
                    &format!("task_classes.{name}.confirmer"),
                    confirmer,
                    message,
                );
            }
        }
    }

    fn operators(&mut self, raw: &[RawOperator]) -> Vec<Operator> {
        raw.iter()
            .enumerate()
            .filter_map(|(index, operator)| self.operator(index, operator))
            .collect()
    }

    fn operator(&mut self, index: usize, raw: &RawOperator) -> Option<Operator> {
        let field = format!("operators[{index}]");
        let token_sha256 = parse_sha256_hex(raw.token_sha256.get_ref());
        if token_sha256.is_none() {
            let message = "must be 64 hex digits (the SHA-256 of the token)";
            self.error_at(&format!("{field}.token_sha256"), &raw.token_sha256, message);
        }
        let mut roles = std::collections::BTreeSet::new();
        for role in &raw.roles {
            match parse_role(role.get_ref()) {
                Some(parsed) => {
                    roles.insert(parsed);
                }
                None => {
                    let message = format!(
                        "unknown role `{}` (expected `operator`, `approver` or `auditor`)",
                        role.get_ref()
                    );
                    self.error_at(&format!("{field}.roles"), role, message);
                }
            }
        }
        Some(Operator {
            name: raw.name.clone(),
            token_sha256: token_sha256?,
            roles,
        })
    }
}

fn segments(raw: &RawConfig) -> BTreeMap<SegmentName, Segment> {
    raw.segments
        .iter()
        .map(|(name, segment)| {
            let name = SegmentName::new(name.as_str());
            let typed = Segment {
                name: name.clone(),
                description: segment.description.clone(),
                recording: segment.recording,
            };
            (name, typed)
        })
        .collect()
}

fn parse_role(text: &str) -> Option<Role> {
    match text {
        "operator" => Some(Role::Operator),
        "approver" => Some(Role::Approver),
        "auditor" => Some(Role::Auditor),
        _ => None,
    }
}

fn parse_sha256_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(text.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *slot = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

impl Resolver<'_> {
    /// Discovery forwards calls no route classifies, so it is only for a tool whose
    /// calls are observed, never enforced: refused otherwise, naming the fix.
    fn check_discovery(&mut self, raw: &RawConfig, observe: &Observed) {
        for (name, tool) in raw.tools.iter().filter(|(_, tool)| tool.discover) {
            let tool_name = ToolName::new(name.as_str());
            let observed = observe.tools.contains(&tool_name)
                || observe
                    .segments
                    .iter()
                    .any(|segment| segment.as_str() == tool.segment.get_ref().as_str());
            if !observed {
                self.error_at_field(
                    &format!("tools.{name}.discover"),
                    "discovery forwards calls that match no route, so it is only allowed in \
                     observe mode: set `enforce = false` on the tool or its segment, or \
                     remove `discover`",
                );
            }
        }
    }
}

/// The tools and segments with `enforce = false`.
fn observed(raw: &RawConfig) -> Observed {
    let tools = raw.tools.iter().filter(|(_, tool)| !tool.enforce);
    let segments = raw.segments.iter().filter(|(_, segment)| !segment.enforce);
    Observed {
        tools: tools
            .map(|(name, _)| ToolName::new(name.as_str()))
            .collect(),
        segments: segments
            .map(|(name, _)| SegmentName::new(name.as_str()))
            .collect(),
        discover: raw
            .tools
            .iter()
            .filter(|(_, tool)| tool.discover)
            .map(|(name, _)| ToolName::new(name.as_str()))
            .collect(),
    }
}
