//! MCP servers: how Gatehouse reaches each one and how its tools, resources and prompts
//! map to intents. Only what is listed is reachable.

use std::collections::BTreeMap;
use std::time::Duration;

use toml::Spanned;

use crate::config::raw::{RawMcpFeature, RawMcpServer, RawMcpTool};
use crate::config::resolve::Resolver;
use crate::config::resolve::tools::{is_intent, is_tool_name, parse_upstream_url};
use crate::config::{
    ArgKind, ArgSpec, IntentInfo, McpMapping, McpServer, McpTransport, Segment, StdioCommand,
    Surface, Tool,
};
use crate::model::{Access, DataClass, Intent, SegmentName, ToolName};

impl Resolver<'_> {
    pub(super) fn mcp_servers(
        &mut self,
        raw: &BTreeMap<String, RawMcpServer>,
        segments: &BTreeMap<SegmentName, Segment>,
        tools: &BTreeMap<ToolName, Tool>,
        intents: &mut BTreeMap<Intent, IntentInfo>,
        default_timeout: Duration,
    ) -> BTreeMap<ToolName, McpServer> {
        let mut servers = BTreeMap::new();
        for (name, server) in raw {
            let field = format!("mcp_servers.{name}");
            if tools.contains_key(name.as_str()) {
                let message = format!("`{name}` is also a tool: policy sees both as one `Tool`");
                self.error_at_field(&field, message);
                continue;
            }
            if let Some(mut typed) = self.mcp_server(&field, name, server, segments, intents) {
                typed.timeout = match server.timeout_ms {
                    Some(0) => {
                        self.error_at_field(&format!("{field}.timeout_ms"), "must be positive");
                        default_timeout
                    }
                    Some(millis) => Duration::from_millis(millis),
                    None => default_timeout,
                };
                servers.insert(typed.name.clone(), typed);
            }
        }
        servers
    }

    fn mcp_server(
        &mut self,
        field: &str,
        name: &str,
        raw: &RawMcpServer,
        segments: &BTreeMap<SegmentName, Segment>,
        intents: &mut BTreeMap<Intent, IntentInfo>,
    ) -> Option<McpServer> {
        if !is_tool_name(name) {
            let message = "MCP server names use only `a-z`, `0-9`, `-` and `_`";
            self.error_at_field(field, message);
        }
        let segment = raw.segment.get_ref().as_str();
        if !segments.contains_key(segment) {
            let message = format!("unknown segment `{segment}` (define it under [segments])");
            self.error_at(&format!("{field}.segment"), &raw.segment, message);
        }
        let transport = self.mcp_transport(field, raw);
        let mut tools = BTreeMap::new();
        for (tool, mapping) in &raw.tools {
            let tool_field = format!("{field}.tools.{tool}");
            let intent = self.mcp_tool_intent(&tool_field, name, tool, raw, mapping);
            let args = self.mcp_args(&tool_field, &mapping.args);
            let risk = self.route_risk(
                &tool_field,
                &mapping.data_class,
                &mapping.scan,
                &mapping.redact,
            );
            let mapping = McpMapping {
                intent: intent?,
                data_class: DataClass::new(mapping.data_class.as_str()),
                tier: mapping.tier,
                access: mapping.access,
                args,
                risk,
            };
            self.record_mcp_intent(&tool_field, &mapping, intents);
            tools.insert(tool.clone(), mapping);
        }
        let resources = raw.resources.as_ref().and_then(|feature| {
            self.mcp_feature(&format!("{field}.resources"), feature, "uri", intents)
        });
        let prompts = raw.prompts.as_ref().and_then(|feature| {
            self.mcp_feature(&format!("{field}.prompts"), feature, "name", intents)
        });
        Some(McpServer {
            name: ToolName::new(name),
            segment: SegmentName::new(segment),
            transport: transport?,
            timeout: Duration::ZERO,
            tools,
            resources,
            prompts,
        })
    }

    fn mcp_transport(&mut self, field: &str, raw: &RawMcpServer) -> Option<McpTransport> {
        match (&raw.url, &raw.command) {
            (Some(url), None) => {
                let stdio_only = !raw.args.is_empty() || !raw.env.is_empty() || raw.cwd.is_some();
                if stdio_only {
                    let message = "`args`, `env` and `cwd` apply to a `command`, not a `url`";
                    self.error_at_field(field, message);
                }
                let Some(parsed) = parse_upstream_url(url.get_ref()) else {
                    let message = format!(
                        "`{}` is not an `http[s]://host:port/path` URL (no query, no fragment)",
                        url.get_ref()
                    );
                    self.error_at(&format!("{field}.url"), url, message);
                    return None;
                };
                let parsed = self.upstream_ca(field, parsed, raw.ca_file.as_ref());
                let auth = match &raw.auth {
                    Some(auth) => Some(self.upstream_auth(field, auth)?),
                    None => None,
                };
                Some(McpTransport::Http { url: parsed, auth })
            }
            (None, Some(command)) => {
                if raw.auth.is_some() {
                    let message =
                        "`auth` applies to a `url`; pass a stdio server's secrets in `env`";
                    self.error_at_field(&format!("{field}.auth"), message);
                }
                if let Some(ca) = &raw.ca_file {
                    self.error_at(
                        &format!("{field}.ca_file"),
                        ca,
                        "applies to an `https://` `url`",
                    );
                }
                if command.get_ref().trim().is_empty() {
                    self.error_at(&format!("{field}.command"), command, "must not be empty");
                    return None;
                }
                Some(McpTransport::Stdio(StdioCommand {
                    program: command.get_ref().clone(),
                    args: raw.args.clone(),
                    env: raw.env.clone(),
                    cwd: self.path(raw.cwd.as_deref().unwrap_or(".")),
                }))
            }
            _ => {
                self.error_at_field(field, "set exactly one of `url` or `command`");
                None
            }
        }
    }

    fn mcp_tool_intent(
        &mut self,
        field: &str,
        server: &str,
        tool: &str,
        raw: &RawMcpServer,
        mapping: &RawMcpTool,
    ) -> Option<Intent> {
        let (text, spanned) = match &mapping.intent {
            Some(intent) => (intent.get_ref().clone(), intent),
            None => {
                let pattern = &raw.intent_pattern;
                let text = pattern
                    .get_ref()
                    .replace("{server}", server)
                    .replace("{tool}", tool);
                (text, pattern)
            }
        };
        if !is_intent(&text) {
            let message =
                format!("`{text}` is not an intent name (letters, digits, `.`, `_`, `-`, `:`)");
            self.error_at(&format!("{field}.intent"), spanned, message);
            return None;
        }
        Some(Intent::new(text.as_str()))
    }

    fn mcp_args(
        &mut self,
        field: &str,
        raw: &BTreeMap<String, Spanned<String>>,
    ) -> BTreeMap<String, ArgSpec> {
        let mut args = BTreeMap::new();
        for (name, kind) in raw {
            let arg_field = format!("{field}.args.{name}");
            if !is_arg_name(name) {
                let message = "argument names start with a letter or `_`, then letters, digits or `_` (Cedar attribute names)";
                self.error_at(&arg_field, kind, message);
                continue;
            }
            match parse_arg_spec(kind.get_ref()) {
                Some(spec) => {
                    args.insert(name.clone(), spec);
                }
                None => {
                    let message = format!(
                        "unknown argument type `{}` (expected `string`, `path`, `long`, `bool` or `set<string>`, optionally ending in `?`)",
                        kind.get_ref()
                    );
                    self.error_at(&arg_field, kind, message);
                }
            }
        }
        args
    }

    /// Resources and prompts: one intent, one argument (the URI or prompt name).
    fn mcp_feature(
        &mut self,
        field: &str,
        raw: &RawMcpFeature,
        key: &str,
        intents: &mut BTreeMap<Intent, IntentInfo>,
    ) -> Option<McpMapping> {
        let intent = raw.intent.get_ref();
        if !is_intent(intent) {
            let message =
                format!("`{intent}` is not an intent name (letters, digits, `.`, `_`, `-`, `:`)");
            self.error_at(&format!("{field}.intent"), &raw.intent, message);
            return None;
        }
        let spec = ArgSpec {
            kind: ArgKind::String,
            required: true,
        };
        let mapping = McpMapping {
            intent: Intent::new(intent.as_str()),
            data_class: DataClass::new(raw.data_class.as_str()),
            tier: raw.tier,
            access: Access::Read,
            args: BTreeMap::from([(key.to_owned(), spec)]),
            risk: None,
        };
        self.record_mcp_intent(field, &mapping, intents);
        Some(mapping)
    }

    /// An intent means one thing everywhere: the same access, and for MCP the same
    /// argument types, since policy reads them through one `context` type.
    fn record_mcp_intent(
        &mut self,
        field: &str,
        mapping: &McpMapping,
        intents: &mut BTreeMap<Intent, IntentInfo>,
    ) {
        let info = IntentInfo {
            access: mapping.access,
            args: Some(mapping.args.clone()),
            surface: Surface::Mcp,
        };
        match intents.get(&mapping.intent) {
            Some(seen) if seen.surface == Surface::Http => {
                let message = format!(
                    "intent `{}` also names an HTTP route; an MCP intent needs its own name",
                    mapping.intent
                );
                self.error_at_field(&format!("{field}.intent"), message);
            }
            Some(seen) if *seen != info => {
                let message = format!(
                    "intent `{}` is mapped elsewhere with a different access or arguments",
                    mapping.intent
                );
                self.error_at_field(&format!("{field}.intent"), message);
            }
            _ => {
                intents.insert(mapping.intent.clone(), info);
            }
        }
    }
}

pub(super) fn parse_arg_spec(text: &str) -> Option<ArgSpec> {
    let (kind, required) = match text.strip_suffix('?') {
        Some(kind) => (kind, false),
        None => (text, true),
    };
    Some(ArgSpec {
        kind: ArgKind::parse(kind)?,
        required,
    })
}

pub(super) fn is_arg_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        && name.len() <= 64
}
