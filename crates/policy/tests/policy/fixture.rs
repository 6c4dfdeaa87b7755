//! Builds typed `Config` values in code, for the integration tests and the benchmark.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use gatehouse_core::config::{
    Agent, AgentKey, ApprovalSettings, Config, GatewaySettings, IntentInfo, Limits, Notifications,
    PolicyFile, StoreLocation, Surface, Tool, UpstreamUrl,
};
use gatehouse_core::model::{Access, AgentId, AttrValue, GroupName, Intent, SegmentName, ToolName};

/// A configuration with no agents, tools, intents or policies.
pub(crate) fn empty() -> Config {
    Config {
        base_dir: PathBuf::from("."),
        gateway: GatewaySettings {
            audience: "gatehouse".to_owned(),
            data_listen: ([127, 0, 0, 1], 0).into(),
            control_listen: ([127, 0, 0, 1], 0).into(),
            data_dir: PathBuf::from("data"),
            store: StoreLocation::Sqlite(PathBuf::from("data/gatehouse.db")),
            max_staleness: Duration::from_secs(5),
            events_file: None,
            limits: Limits {
                max_header_bytes: 16 * 1024,
                max_request_body: 1 << 20,
                max_response_body: 1 << 20,
                upstream_timeout: Duration::from_secs(30),
                max_assertion_lifetime: Duration::from_secs(300),
                idle_timeout: Duration::from_secs(10),
                max_data_connections: 768,
                max_control_connections: 64,
                token_rate_per_peer: 20,
                token_burst_per_peer: 40,
                max_queued_events: 50_000,
                response_idle_timeout: std::time::Duration::from_secs(30),
            },
            secrets_reload: Duration::from_secs(60),
            event_retention: None,
            anonymous_events_per_minute: 20,
            data_tls: None,
            control_tls: None,
        },
        segments: BTreeMap::new(),
        agents: BTreeMap::new(),
        issuers: BTreeMap::new(),
        task_classes: BTreeMap::new(),
        tools: BTreeMap::new(),
        mcp_servers: BTreeMap::new(),
        intents: BTreeMap::new(),
        operators: Vec::new(),
        policies: Vec::new(),
        policy_source: Default::default(),
        observe: Default::default(),
        schema: None,
        notifications: Notifications::default(),
        approvals: ApprovalSettings {
            ttl: Duration::from_secs(900),
            confirmation_ttl: Duration::from_secs(300),
            forbid_owner: false,
            two_approvers: BTreeSet::new(),
            max_wait: Duration::from_secs(30),
            console_url: None,
        },
        sinks: Vec::new(),
        risk: None,
        baseline: Default::default(),
    }
}

pub(crate) fn add_agent(
    config: &mut Config,
    id: &str,
    groups: &[&str],
    attrs: &[(&str, AttrValue)],
) {
    let agent = Agent {
        id: AgentId::new(id),
        key: AgentKey::Issuer("x".into()),
        attributes: attrs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
        groups: groups.iter().map(|g| GroupName::new(*g)).collect(),
        task_classes: BTreeSet::new(),
        owner: None,
    };
    config.agents.insert(AgentId::new(id), agent);
}

pub(crate) fn add_tool(config: &mut Config, name: &str, segment: &str) {
    let tool = Tool {
        name: ToolName::new(name),
        segment: SegmentName::new(segment),
        upstream: UpstreamUrl {
            authority: "127.0.0.1:9".to_owned(),
            base_path: String::new(),
            tls: None,
        },
        auth: None,
        routes: Vec::new(),
    };
    config.tools.insert(ToolName::new(name), tool);
}

pub(crate) fn add_intent(config: &mut Config, intent: &str, access: Access) {
    config.intents.insert(
        Intent::new(intent),
        IntentInfo {
            access,
            args: None,
            surface: Surface::Http,
        },
    );
}

pub(crate) fn add_policy(config: &mut Config, path: &str, text: &str) {
    config.policies.push(PolicyFile {
        path: PathBuf::from(path),
        text: text.to_owned(),
    });
}

pub(crate) fn set_schema(config: &mut Config, text: &str) {
    config.schema = Some(PolicyFile {
        path: PathBuf::from("schema.cedarschema"),
        text: text.to_owned(),
    });
}
