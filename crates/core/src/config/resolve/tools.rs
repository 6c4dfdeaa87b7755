//! Where calls go: tools, their upstreams and secrets, and the routes that give each
//! call its intent.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::config::raw::{RawRoute, RawTool, RawUpstreamAuth};
use crate::config::resolve::Resolver;
use crate::config::{
    IntentInfo, Route, Secret, SecretSource, Segment, Surface, Tool, UpstreamAuth, UpstreamTls,
    UpstreamUrl,
};
use crate::model::{Access, DataClass, Intent, SegmentName, ToolName};
use crate::path::PathTemplate;

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

impl Resolver<'_> {
    pub(super) fn tools(
        &mut self,
        raw: &BTreeMap<String, RawTool>,
        segments: &BTreeMap<SegmentName, Segment>,
    ) -> (BTreeMap<ToolName, Tool>, BTreeMap<Intent, IntentInfo>) {
        let mut intents = BTreeMap::new();
        let mut tools = BTreeMap::new();
        for (name, tool) in raw {
            if let Some(typed) = self.tool(name, tool, segments, &mut intents) {
                tools.insert(typed.name.clone(), typed);
            }
        }
        (tools, intents)
    }

    fn tool(
        &mut self,
        name: &str,
        raw: &RawTool,
        segments: &BTreeMap<SegmentName, Segment>,
        intents: &mut BTreeMap<Intent, IntentInfo>,
    ) -> Option<Tool> {
        let field = format!("tools.{name}");
        if !is_tool_name(name) {
            let message = "tool names use only `a-z`, `0-9`, `-` and `_`";
            self.error_at_field(&field, message);
        }
        let segment = raw.segment.get_ref().as_str();
        if !segments.contains_key(segment) {
            let message = format!("unknown segment `{segment}` (define it under [segments])");
            self.error_at(&format!("{field}.segment"), &raw.segment, message);
        }
        let upstream = self
            .upstream_url(&format!("{field}.url"), &raw.url)
            .map(|url| self.upstream_ca(&field, url, raw.ca_file.as_ref()));
        let auth = raw
            .auth
            .as_ref()
            .and_then(|auth| self.upstream_auth(&field, auth));
        let routes = self.routes(&field, &raw.routes, intents);
        Some(Tool {
            name: ToolName::new(name),
            segment: SegmentName::new(segment),
            upstream: upstream?,
            auth,
            routes,
        })
    }

    fn upstream_url(&mut self, field: &str, raw: &Spanned<String>) -> Option<UpstreamUrl> {
        let parsed = parse_upstream_url(raw.get_ref());
        if parsed.is_none() {
            let message = format!(
                "`{}` is not an `http[s]://host:port[/base]` URL (no query, no fragment)",
                raw.get_ref()
            );
            self.error_at(field, raw, message);
        }
        parsed
    }

    pub(super) fn upstream_auth(
        &mut self,
        field: &str,
        raw: &RawUpstreamAuth,
    ) -> Option<UpstreamAuth> {
        let field = format!("{field}.auth");
        let header = raw.header.to_ascii_lowercase();
        if !is_token(&header) {
            self.error_at_field(&format!("{field}.header"), "not a valid header name");
        }
        let (secret, source) = self.secret(&field, raw)?;
        let default_prefix = if header == "authorization" {
            "Bearer "
        } else {
            ""
        };
        Some(UpstreamAuth {
            prefix: raw
                .prefix
                .clone()
                .unwrap_or_else(|| default_prefix.to_owned()),
            header,
            secret,
            source,
        })
    }

    /// Reads the secret now, so a missing one stops start-up rather than the first call.
    fn secret(&mut self, field: &str, raw: &RawUpstreamAuth) -> Option<(Secret, SecretSource)> {
        let (field, spanned, source) = match (&raw.secret_env, &raw.secret_file) {
            (Some(var), None) => (
                format!("{field}.secret_env"),
                var,
                SecretSource::Env(var.get_ref().clone()),
            ),
            (None, Some(file)) => (
                format!("{field}.secret_file"),
                file,
                SecretSource::File(self.path(file.get_ref())),
            ),
            _ => {
                self.error_at_field(field, "set exactly one of `secret_env` or `secret_file`");
                return None;
            }
        };
        if let Some(secret) = source.read() {
            return Some((secret, source));
        }
        let message = match &source {
            SecretSource::Env(var) => format!("environment variable `{var}` is not set or empty"),
            SecretSource::File(path) => format!(
                "secret file `{}` is missing, unreadable or empty",
                path.display()
            ),
        };
        self.error_at(&field, spanned, message);
        None
    }

    fn routes(
        &mut self,
        field: &str,
        raw: &[RawRoute],
        intents: &mut BTreeMap<Intent, IntentInfo>,
    ) -> Vec<Route> {
        let mut routes: Vec<Route> = Vec::new();
        for (index, route) in raw.iter().enumerate() {
            let field = format!("{field}.routes[{index}]");
            let Some(typed) = self.route(&field, route) else {
                continue;
            };
            if routes.iter().any(|seen| {
                seen.method == typed.method && seen.template.same_shape(&typed.template)
            }) {
                let message = format!(
                    "duplicate route `{} {}`",
                    typed.method,
                    typed.template.as_str()
                );
                self.error_at(&format!("{field}.path"), &route.path, message);
                continue;
            }
            self.record_intent(&field, route, &typed, intents);
            routes.push(typed);
        }
        routes
    }

    fn route(&mut self, field: &str, raw: &RawRoute) -> Option<Route> {
        let method = raw.method.get_ref().to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            let message = format!(
                "unknown method `{}` (expected one of {})",
                raw.method.get_ref(),
                METHODS.join(", ")
            );
            self.error_at(&format!("{field}.method"), &raw.method, message);
        }
        let intent = raw.intent.get_ref();
        if !is_intent(intent) {
            let message =
                format!("`{intent}` is not an intent name (letters, digits, `.`, `_`, `-`, `:`)");
            self.error_at(&format!("{field}.intent"), &raw.intent, message);
        }
        let template = match PathTemplate::parse(raw.path.get_ref()) {
            Ok(template) => Some(template),
            Err(error) => {
                let message = format!("invalid path template `{}`: {error}", raw.path.get_ref());
                self.error_at(&format!("{field}.path"), &raw.path, message);
                None
            }
        };
        let (args, arg_sources) = self.route_args(field, &raw.args, template.as_ref());
        let websocket = self.route_upgrade(field, &method, &raw.upgrade);
        let risk = self.route_risk(field, &raw.data_class, &raw.scan, &raw.redact);
        Some(Route {
            access: raw.access.unwrap_or_else(|| default_access(&method)),
            method,
            template: template?,
            intent: Intent::new(intent.as_str()),
            data_class: DataClass::new(raw.data_class.as_str()),
            tier: raw.tier,
            method_param: raw.method_param,
            matrix_params: raw.matrix_params,
            websocket,
            args,
            arg_sources,
            risk,
        })
    }

    /// `upgrade = ["websocket"]` on a `GET` route; nothing else upgrades.
    fn route_upgrade(&mut self, field: &str, method: &str, raw: &[Spanned<String>]) -> bool {
        let field = format!("{field}.upgrade");
        for protocol in raw {
            let message = match protocol.get_ref().as_str() {
                "websocket" if method == "GET" => continue,
                "websocket" => "a WebSocket upgrade is a `GET`".to_owned(),
                "h2c" => "`h2c` is never let through: the tool would read requests Gatehouse never decided".to_owned(),
                other => format!("unknown upgrade `{other}` (only `websocket`)"),
            };
            self.error_at(&field, protocol, message);
        }
        !raw.is_empty()
    }

    /// An intent means one thing everywhere: it reads or it writes on every route, and
    /// its routes declare the same arguments, since policy reads them through one
    /// `context` type.
    fn record_intent(
        &mut self,
        field: &str,
        raw: &RawRoute,
        route: &Route,
        intents: &mut BTreeMap<Intent, IntentInfo>,
    ) {
        let info = IntentInfo {
            access: route.access,
            args: (!route.args.is_empty()).then(|| route.args.clone()),
            surface: Surface::Http,
        };
        match intents.get(&route.intent) {
            Some(seen) if seen.surface == Surface::Mcp => {
                let message = format!(
                    "intent `{}` also names an MCP mapping; an HTTP route needs its own intent",
                    route.intent
                );
                self.error_at(&format!("{field}.intent"), &raw.intent, message);
            }
            Some(seen) if seen.access != route.access => {
                let message = format!(
                    "intent `{}` is `{}` here but `{}` on another route",
                    route.intent,
                    route.access.as_str(),
                    seen.access.as_str()
                );
                self.error_at(&format!("{field}.access"), &raw.intent, message);
            }
            Some(seen) if seen.args != info.args => {
                let message = format!(
                    "intent `{}` declares other `args` on another route; give this route its own intent or the same arguments",
                    route.intent
                );
                self.error_at(&format!("{field}.args"), &raw.intent, message);
            }
            _ => {
                intents.insert(route.intent.clone(), info);
            }
        }
    }
}

fn default_access(method: &str) -> Access {
    match method {
        "GET" | "HEAD" | "OPTIONS" => Access::Read,
        _ => Access::Write,
    }
}

pub(super) fn is_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_'
        })
}

pub(super) fn is_intent(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._-:".contains(&byte))
}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// `http://host:port[/base]` or `https://…`; the base keeps no trailing slash.
pub(super) fn parse_upstream_url(text: &str) -> Option<UpstreamUrl> {
    let (rest, tls) = match text.strip_prefix("https://") {
        Some(rest) => (rest, Some(UpstreamTls::default())),
        None => (text.strip_prefix("http://")?, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let valid_authority = !authority.is_empty()
        && authority
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b".-:[]".contains(&byte));
    let valid_path =
        !path.contains(['?', '#', '\\', ' ']) && !path.contains("//") && !path.contains("/../");
    (valid_authority && valid_path).then(|| UpstreamUrl {
        authority: authority.to_owned(),
        base_path: path.trim_end_matches('/').to_owned(),
        tls,
    })
}
