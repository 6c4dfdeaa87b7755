//! A running gateway on loopback with a recording upstream, a real config written to a
//! temporary directory, a clock the test moves, and sentence-sized helpers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use ed25519_dalek::SigningKey;
use gatehouse_core::clock::{Clock, ManualClock, SystemClock};
use gatehouse_core::config;
use gatehouse_core::event::Event;
use gatehouse_core::token::keys::{generate_pem, load_signing_key_pem};
use gatehouse_core::token::{AssertionClaims, Audience, sign_eddsa};
use gatehouse_gateway::Gateway;
use gatehouse_gateway::body::{ResponseBody, full};
use gatehouse_gateway::server::spawn_server;
use gatehouse_kit::client::{Reply, send};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tempfile::TempDir;

pub(crate) const AGENT: &str = "spiffe://test/agent/bot";
pub(crate) const SVID_AGENT: &str = "spiffe://test/agent/svid";
pub(crate) const AUDIENCE: &str = "gatehouse-test";
pub(crate) const SECRET: &str = "tickets-upstream-secret-5b1e";
pub(crate) const OPERATOR_TOKEN: &str = "operator-token-for-tests";
pub(crate) const APPROVER_TOKEN: &str = "approver-token-for-tests";

/// One request the upstream received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: Method,
    pub(crate) uri: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// An upstream that records every request it receives.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Upstream {
    pub(crate) async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let (addr, stop, _) = spawn_server("127.0.0.1:0".parse().unwrap(), move |request| {
            let record = Arc::clone(&record);
            async move { respond(record, request).await }
        })
        .await
        .unwrap();
        Self {
            addr,
            seen,
            _stop: stop,
        }
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn respond(
    record: Arc<Mutex<Vec<Seen>>>,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    record.lock().unwrap().push(Seen {
        method: parts.method.clone(),
        uri: parts.uri.to_string(),
        headers: parts.headers.clone(),
        body,
    });
    if path == "/slow" {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    if path == "/api/stream" {
        return streaming();
    }
    if path == "/api/stall" {
        return stalling();
    }
    if path == "/api/big" {
        return Response::new(full(vec![b'b'; 10_000]));
    }
    let mut response = Response::new(full(format!("{{\"ok\":true,\"path\":\"{path}\"}}")));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        "connection",
        "keep-alive, x-upstream-private".parse().unwrap(),
    );
    response
        .headers_mut()
        .insert("x-upstream-private", "hop".parse().unwrap());
    response
}

/// Headers and five bytes at once, then nothing for a minute: a tool that hangs mid-answer.
fn stalling() -> Response<ResponseBody> {
    use futures_util::StreamExt;
    use http_body_util::StreamBody;
    let first: Result<http_body::Frame<Bytes>, gatehouse_gateway::body::BoxError> =
        Ok(http_body::Frame::data(Bytes::from_static(b"start")));
    let stream =
        futures_util::stream::once(async move { first }).chain(futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(http_body::Frame::data(Bytes::from_static(b"late")))
        }));
    Response::new(BodyExt::boxed(StreamBody::new(stream)))
}

/// 40 chunks of 100 bytes, one every 50 ms: a two-second stream.
fn streaming() -> Response<ResponseBody> {
    use http_body_util::StreamBody;
    let (tx, rx) = tokio::sync::mpsc::channel::<
        Result<http_body::Frame<Bytes>, gatehouse_gateway::body::BoxError>,
    >(1);
    tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if tx
                .send(Ok(http_body::Frame::data(Bytes::from(vec![b's'; 100]))))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::new(StreamBody::new(stream).boxed())
}

/// Knobs a test may turn before start.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    policy: Option<String>,
    mcp: Option<(String, String)>,
    edits: Vec<(String, String)>,
    appended: String,
}

impl Builder {
    /// Adds MCP servers (`[mcp_servers…]` tables), a task class `mcp` with `intents`, and
    /// a policy file for them.
    pub(crate) fn mcp(mut self, config: &str, intents: &[&str], policy: &str) -> Self {
        let intents: Vec<String> = intents
            .iter()
            .map(|intent| format!("\"{intent}\""))
            .collect();
        let config = format!(
            "{config}\n[task_classes.mcp]\nsegment = \"data\"\nintents = [{}]\nttl_minutes = 10\nconfirmer = \"orchestrator\"\nbudget = {{ calls = 6, writes = 5, bytes = 1048576 }}\n",
            intents.join(", ")
        );
        self.mcp = Some((config, policy.to_owned()));
        self
    }

    /// Replaces `from` (which must be there) with `to` in the generated config.
    pub(crate) fn edit(mut self, from: &str, to: &str) -> Self {
        self.edits.push((from.to_owned(), to.to_owned()));
        self
    }

    /// Adds `text` (tables such as `[[sinks]]`) at the end of the generated config.
    pub(crate) fn append(mut self, text: &str) -> Self {
        self.appended.push_str(text);
        self
    }

    pub(crate) fn policy(mut self, text: &str) -> Self {
        self.policy = Some(text.to_owned());
        self
    }

    pub(crate) async fn start(self) -> Harness {
        Harness::start_with(self).await
    }
}

/// A running gateway and everything around it.
pub(crate) struct Harness {
    pub(crate) dir: TempDir,
    pub(crate) clock: ManualClock,
    pub(crate) upstream: Upstream,
    pub(crate) control_upstream: Upstream,
    pub(crate) gateway: Option<Gateway>,
    pub(crate) agent_key: SigningKey,
    pub(crate) svid_key: p256::ecdsa::SigningKey,
}

impl Harness {
    pub(crate) async fn start() -> Self {
        Builder::default().start().await
    }

    pub(crate) fn builder() -> Builder {
        Builder::default()
    }

    async fn start_with(builder: Builder) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let upstream = Upstream::start().await;
        let control_upstream = Upstream::start().await;
        let pair = generate_pem().unwrap();
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        std::fs::create_dir_all(dir.path().join("policies")).unwrap();
        std::fs::write(dir.path().join("keys/bot.pub"), &pair.public_pem).unwrap();
        let svid_key = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        std::fs::write(dir.path().join("jwks.json"), jwks_for(&svid_key)).unwrap();
        std::fs::write(dir.path().join("tickets.secret"), format!("{SECRET}\n")).unwrap();
        let policy = builder.policy.unwrap_or_else(|| POLICY.to_owned());
        std::fs::write(dir.path().join("policies/main.cedar"), policy).unwrap();
        std::fs::write(dir.path().join("policies/schema.cedarschema"), SCHEMA).unwrap();
        let mut config_text = config_text(upstream.addr, control_upstream.addr);
        if let Some((mcp, mcp_policy)) = &builder.mcp {
            config_text = config_text.replace(
                r#"task_classes = ["triage", "narrow", "tiny"]"#,
                r#"task_classes = ["triage", "narrow", "tiny", "mcp"]"#,
            );
            config_text.push_str(mcp);
            std::fs::write(dir.path().join("policies/mcp.cedar"), mcp_policy).unwrap();
        }
        for (from, to) in &builder.edits {
            assert!(
                config_text.contains(from.as_str()),
                "no `{from}` in the config"
            );
            config_text = config_text.replace(from.as_str(), to);
        }
        config_text.push_str(&builder.appended);
        std::fs::write(dir.path().join("gatehouse.toml"), config_text).unwrap();
        let config = config::load(&dir.path().join("gatehouse.toml")).unwrap();
        let clock = ManualClock::at(SystemClock.now());
        let gateway = Gateway::start(config, Arc::new(clock.clone()))
            .await
            .unwrap();
        Self {
            dir,
            clock,
            upstream,
            control_upstream,
            gateway: Some(gateway),
            agent_key: load_signing_key_pem(&pair.private_pem).unwrap(),
            svid_key,
        }
    }

    pub(crate) fn gateway(&self) -> &Gateway {
        self.gateway.as_ref().unwrap()
    }

    pub(crate) fn data_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway().data_addr())
    }

    pub(crate) fn control_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway().control_addr())
    }

    /// Valid assertion claims for the test agent, now.
    pub(crate) fn claims(&self) -> AssertionClaims {
        let now = self.clock.now().secs();
        AssertionClaims {
            iss: AGENT.to_owned(),
            sub: AGENT.to_owned(),
            aud: Audience::One(AUDIENCE.to_owned()),
            exp: now + 60,
            iat: Some(now),
            nbf: None,
            jti: Some(format!("jti-{}", rand::random::<u64>())),
        }
    }

    pub(crate) fn assertion(&self) -> String {
        self.sign(&self.claims())
    }

    pub(crate) fn sign(&self, claims: &AssertionClaims) -> String {
        sign_eddsa("JWT", None, claims, &self.agent_key).unwrap()
    }

    /// An ES256 JWT-SVID for the SPIFFE agent from the trusted issuer.
    pub(crate) fn svid(&self) -> String {
        let now = self.clock.now().secs();
        let header = serde_json::json!({"alg": "ES256", "kid": "spire-1", "typ": "JWT"});
        let claims = serde_json::json!({
            "iss": "https://spire.test", "sub": SVID_AGENT, "aud": [AUDIENCE],
            "exp": now + 120, "iat": now, "jti": format!("svid-{}", rand::random::<u64>()),
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        use p256::ecdsa::signature::Signer;
        let signature: p256::ecdsa::Signature = self.svid_key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    pub(crate) async fn exchange(
        &self,
        assertion: &str,
        workflow: &str,
        task_class: &str,
    ) -> Reply {
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}&workflow={workflow}&task_class={task_class}"
        );
        let headers = [("content-type", "application/x-www-form-urlencoded")];
        send(Method::POST, &self.data_url("/v1/token"), &headers, body)
            .await
            .unwrap()
    }

    /// A task credential for `task_class`.
    pub(crate) async fn token_for(&self, task_class: &str) -> String {
        let reply = self.exchange(&self.assertion(), "wf-1", task_class).await;
        assert_eq!(reply.status, 200, "token exchange failed: {}", reply.text());
        reply.json().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A credential of `task_class` in `workflow`.
    pub(crate) async fn token_in(&self, task_class: &str, workflow: &str) -> String {
        let reply = self.exchange(&self.assertion(), workflow, task_class).await;
        assert_eq!(reply.status, 200, "token exchange failed: {}", reply.text());
        reply.json().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A control-plane request as the operator.
    pub(crate) async fn control(&self, method: Method, path: &str, body: &str) -> Reply {
        self.control_as(OPERATOR_TOKEN, method, path, body).await
    }

    /// A control-plane request with `token`.
    pub(crate) async fn control_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: &str,
    ) -> Reply {
        let auth = format!("Bearer {token}");
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        send(method, &self.control_url(path), &headers, body.to_owned())
            .await
            .unwrap()
    }

    pub(crate) async fn token(&self) -> String {
        self.token_for("triage").await
    }

    pub(crate) async fn call(&self, method: Method, path: &str, token: &str, body: &str) -> Reply {
        let auth = format!("Bearer {token}");
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        send(method, &self.data_url(path), &headers, body.to_owned())
            .await
            .unwrap()
    }

    /// Events from the control plane, waiting until `expected` are there.
    pub(crate) async fn events(&self, query: &str, expected: usize) -> Vec<Event> {
        self.events_until(query, |_| true, expected).await
    }

    /// Events from the control plane, waiting until `expected` of them are `wanted`:
    /// events are written in batches, so one kind can arrive after others of the query.
    pub(crate) async fn events_until(
        &self,
        query: &str,
        wanted: impl Fn(&Event) -> bool,
        expected: usize,
    ) -> Vec<Event> {
        for _ in 0..250 {
            let events = self.events_now(query).await;
            if events.iter().filter(|event| wanted(event)).count() >= expected {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fewer than {expected} wanted events for `{query}`");
    }

    pub(crate) async fn events_now(&self, query: &str) -> Vec<Event> {
        let url = self.control_url(&format!("/v1/events?{query}"));
        let reply = gatehouse_kit::client::get_with_token(&url, OPERATOR_TOKEN)
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        serde_json::from_value(reply.json().unwrap()["events"].clone()).unwrap()
    }

    /// The event of one decision id.
    pub(crate) async fn event(&self, id: &str) -> Event {
        for _ in 0..250 {
            let url = self.control_url(&format!("/v1/events/{id}"));
            let reply = gatehouse_kit::client::get_with_token(&url, OPERATOR_TOKEN)
                .await
                .unwrap();
            if reply.status == 200 {
                return serde_json::from_value(reply.json().unwrap()).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no event `{id}`");
    }

    /// Stops the gateway and starts it again on the same directory, config and clock.
    pub(crate) async fn restart(&mut self) {
        self.gateway.take().unwrap().shutdown().await;
        let config = config::load(&self.dir.path().join("gatehouse.toml")).unwrap();
        let clock = Arc::new(self.clock.clone());
        self.gateway = Some(Gateway::start(config, clock).await.unwrap());
    }

    pub(crate) async fn stop(mut self) -> TempDir {
        self.gateway.take().unwrap().shutdown().await;
        self.dir
    }
}

/// The decision id a response carries, in its header and its body.
pub(crate) fn decision_id(reply: &Reply) -> String {
    reply.headers["gatehouse-decision-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The problem document's `type` suffix.
pub(crate) fn problem_kind(reply: &Reply) -> String {
    assert_eq!(
        reply.headers["content-type"],
        "application/problem+json",
        "{}",
        reply.text()
    );
    let body = reply.json().unwrap();
    assert_eq!(body["decision_id"].as_str().unwrap(), decision_id(reply));
    body["type"]
        .as_str()
        .unwrap()
        .trim_start_matches("urn:gatehouse:problem:")
        .to_owned()
}

fn jwks_for(key: &p256::ecdsa::SigningKey) -> String {
    let point = key.verifying_key().to_encoded_point(false);
    serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "spire-1", "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    }]})
    .to_string()
}

pub(crate) fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn config_text(upstream: SocketAddr, control: SocketAddr) -> String {
    format!(
        r#"
[gateway]
audience = "{AUDIENCE}"
data_listen = "127.0.0.1:0"
control_listen = "127.0.0.1:0"
data_dir = "data"
events_file = "data/events.jsonl"

secrets_reload_secs = 1
event_retention_days = 30

[gateway.limits]
max_request_body = 1024
max_header_bytes = 4096
upstream_timeout_ms = 1000

[segments.data]
[segments.control]

[agents."{AGENT}"]
public_key_file = "keys/bot.pub"
groups = ["triage"]
task_classes = ["triage", "narrow", "tiny"]
owner = "carol"
attributes = {{ team = "support" }}

[agents."{SVID_AGENT}"]
issuer = "spire"
groups = ["triage"]
task_classes = ["triage"]
attributes = {{ team = "support" }}

[issuers.spire]
issuer = "https://spire.test"
jwks_file = "jwks.json"

[task_classes.triage]
segment = "data"
intents = ["ticket.create", "ticket.read", "ticket.list", "ticket.delete", "ticket.upload", "ticket.slow", "dead.read", "stream.read", "refund.create", "ticket.update", "payout.create", "ticket.export"]
ttl_minutes = 10
confirmer = "orchestrator"

[task_classes.tiny]
segment = "data"
intents = ["ticket.read", "ticket.create", "stream.read", "big.read"]
ttl_minutes = 10
workflow_ttl_minutes = 30
budget = {{ calls = 5, writes = 1, bytes = 4096 }}

[notifications]
webhook_url = "http://{upstream}/hook"

[approvals]
ttl_minutes = 5
two_approvers = ["payout.create"]
forbid_owner = true
max_wait_secs = 10
console_url = "http://gatehouse.test/console"

[task_classes.narrow]
segment = "data"
intents = ["ticket.read"]
ttl_minutes = 10

[task_classes.release]
segment = "control"
intents = ["deploy.list"]
ttl_minutes = 5

[tools.tickets]
url = "http://{upstream}/api"
segment = "data"
auth = {{ secret_file = "tickets.secret" }}
routes = [
  {{ method = "POST", path = "/tickets", intent = "ticket.create" }},
  {{ method = "GET", path = "/tickets", intent = "ticket.list" }},
  {{ method = "GET", path = "/tickets/{{id}}", intent = "ticket.read" }},
  {{ method = "DELETE", path = "/tickets/{{id}}", intent = "ticket.delete" }},
  {{ method = "POST", path = "/upload", intent = "ticket.upload" }},
  {{ method = "GET", path = "/slow", intent = "ticket.slow", access = "read" }},
  {{ method = "GET", path = "/stream", intent = "stream.read" }},
  {{ method = "GET", path = "/stall", intent = "stream.read" }},
  {{ method = "GET", path = "/big", intent = "big.read" }},
  {{ method = "POST", path = "/refunds", intent = "refund.create", tier = "high" }},
  {{ method = "POST", path = "/payouts", intent = "payout.create", tier = "high" }},
  {{ method = "PUT", path = "/tickets/{{id}}", intent = "ticket.update", tier = "medium" }},
  {{ method = "GET", path = "/export", intent = "ticket.export" }},
]

[tools.slow]
url = "http://{upstream}"
segment = "data"
routes = [ {{ method = "GET", path = "/slow", intent = "ticket.slow" }} ]

[tools.deploy]
url = "http://{control}"
segment = "control"
routes = [ {{ method = "GET", path = "/deployments", intent = "deploy.list" }} ]

[tools.dead]
url = "http://127.0.0.1:9"
segment = "data"
routes = [ {{ method = "GET", path = "/x", intent = "dead.read" }} ]

[[operators]]
name = "admin"
token_sha256 = "{operator}"
roles = ["operator", "auditor"]

[[operators]]
name = "alice"
token_sha256 = "{approver}"
roles = ["approver"]

[[operators]]
name = "bob"
token_sha256 = "{bob}"
roles = ["approver"]

[[operators]]
name = "carol"
token_sha256 = "{carol}"
roles = ["approver"]

[[operators]]
name = "orchestrator"
token_sha256 = "{orchestrator}"
roles = ["operator"]

[[operators]]
name = "{AGENT}"
token_sha256 = "{selfish}"
roles = ["approver"]
"#,
        operator = sha256_hex(OPERATOR_TOKEN),
        approver = sha256_hex(APPROVER_TOKEN),
        bob = sha256_hex("bob-token"),
        carol = sha256_hex("carol-token"),
        orchestrator = sha256_hex("orchestrator-token"),
        selfish = sha256_hex("agent-as-approver-token"),
    )
}

pub(crate) const SCHEMA: &str = r#"
namespace Gatehouse {
  entity Group;
  entity Agent in [Group] = { team: String };
  entity Segment;
  entity Tool in [Segment];
}
"#;

pub(crate) const POLICY: &str = r#"
@id("triage-works-tickets")
permit (
  principal in Gatehouse::Group::"triage",
  action in [Gatehouse::Action::"ticket.create", Gatehouse::Action::"ticket.read",
             Gatehouse::Action::"ticket.list", Gatehouse::Action::"ticket.upload",
             Gatehouse::Action::"ticket.slow", Gatehouse::Action::"dead.read",
             Gatehouse::Action::"ticket.delete", Gatehouse::Action::"stream.read",
             Gatehouse::Action::"big.read", Gatehouse::Action::"refund.create",
             Gatehouse::Action::"payout.create", Gatehouse::Action::"ticket.update"],
  resource in Gatehouse::Segment::"data"
);

@id("exports-need-approval")
@tier("high")
permit (
  principal in Gatehouse::Group::"triage",
  action == Gatehouse::Action::"ticket.export",
  resource in Gatehouse::Segment::"data"
);

@id("never-delete")
forbid (principal, action == Gatehouse::Action::"ticket.delete", resource);
"#;
