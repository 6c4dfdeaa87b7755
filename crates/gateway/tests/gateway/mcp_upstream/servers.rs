//! Real MCP servers for the upstream tests: the reference servers that
//! `scripts/mcp-deps.sh` installs under `tests/mcp/node_modules`, configured through a
//! real `gatehouse.toml`, and small scripted misbehaving servers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::config;
use gatehouse_core::model::ToolName;
use gatehouse_gateway::mcp_upstream::{Upstream, Upstreams};
use serde_json::Value;
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// A timeout no healthy exchange comes near, even on a loaded two-core machine.
pub(crate) const LONG: Duration = Duration::from_secs(30);

/// `tests/mcp`: the npm lock, the loopback preload and the installed servers.
pub(crate) fn mcp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp")
}

/// A file under `tests/mcp/node_modules`; missing means the installer has not run.
pub(crate) fn installed(relative: &str) -> String {
    let path = mcp_dir().join("node_modules").join(relative);
    assert!(
        path.exists(),
        "`{}` is missing: run scripts/mcp-deps.sh to install the MCP test servers",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

pub(crate) fn everything_js() -> String {
    installed("@modelcontextprotocol/server-everything/dist/index.js")
}

pub(crate) fn filesystem_js() -> String {
    installed("@modelcontextprotocol/server-filesystem/dist/index.js")
}

/// An `[mcp_servers.NAME]` table launching `program args…`.
pub(crate) fn stdio(name: &str, program: &str, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|arg| quoted(arg)).collect();
    format!(
        "[mcp_servers.{name}]\nsegment = \"data\"\ncommand = {}\nargs = [{}]\n",
        quoted(program),
        args.join(", ")
    )
}

/// An `[mcp_servers.NAME]` table reaching `http://ADDR/mcp`; `extra` adds lines.
pub(crate) fn http(name: &str, addr: SocketAddr, extra: &str) -> String {
    format!("[mcp_servers.{name}]\nsegment = \"data\"\nurl = \"http://{addr}/mcp\"\n{extra}\n")
}

/// A TOML basic string (a JSON string is one).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// A loaded config with MCP servers, and their clients.
pub(crate) struct Setup {
    _dir: TempDir,
    pub(crate) upstreams: Upstreams,
}

impl Setup {
    pub(crate) fn new(servers: &[String]) -> Self {
        Self::with_limit(servers, 16 * 1024 * 1024)
    }

    /// With `max_response_body` set to `limit`.
    pub(crate) fn with_limit(servers: &[String], limit: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // The config demands a policy; these tests never reach the policy phase.
        std::fs::create_dir_all(dir.path().join("policies")).unwrap();
        let policy = "@id(\"none\")\nforbid (principal, action, resource);\n";
        std::fs::write(dir.path().join("policies/main.cedar"), policy).unwrap();
        std::fs::write(dir.path().join("upstream.secret"), "file-secret\n").unwrap();
        let text = format!(
            "[gateway]\naudience = \"mcp-upstream-test\"\n\
             [gateway.limits]\nmax_response_body = {limit}\nupstream_timeout_ms = 5000\n\
             [segments.data]\n{}",
            servers.join("\n")
        );
        std::fs::write(dir.path().join("gatehouse.toml"), text).unwrap();
        let config = config::load(&dir.path().join("gatehouse.toml")).unwrap();
        let client = gatehouse_gateway::upstream::UpstreamClient::new(
            config.gateway.limits.upstream_timeout,
        );
        let upstreams = Upstreams::start(&config, &client);
        Self {
            _dir: dir,
            upstreams,
        }
    }

    pub(crate) fn upstream(&self, name: &str) -> Arc<Upstream> {
        Arc::clone(self.upstreams.get(&ToolName::new(name)).unwrap())
    }
}

/// The result of `method`, which must succeed.
pub(crate) async fn result_of(upstream: &Upstream, method: &str, params: Value) -> Value {
    match upstream.request(method, params, None, LONG).await {
        Ok(Ok(result)) => result,
        other => panic!("`{method}` on `{}` failed: {other:?}", upstream.name()),
    }
}

/// The names in a `tools/list` result.
pub(crate) fn tool_names(result: &Value) -> Vec<String> {
    result["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap().to_owned())
        .collect()
}

/// An unused loopback port (free when asked; nothing else here races for it).
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A Node MCP server over Streamable HTTP on loopback: server-everything (held there by
/// the preload) or the conformance suite's fixture.
pub(crate) struct HttpEverything {
    child: Child,
}

impl HttpEverything {
    /// server-everything in its Streamable HTTP mode.
    pub(crate) async fn start(port: u16) -> Self {
        let preload = mcp_dir().join("loopback.cjs");
        let mut command = Command::new("node");
        command
            .arg("--require")
            .arg(&preload)
            .arg(everything_js())
            .arg("streamableHttp")
            .env("PORT", port.to_string());
        Self::listening(command, port, "server-everything").await
    }

    /// `tests/mcp/conformance/fixture-server.mjs`: the `test_*` tools the conformance
    /// scenarios call (progress, log messages among them).
    pub(crate) async fn fixture(port: u16) -> Self {
        installed("@modelcontextprotocol/sdk/package.json");
        let mut command = Command::new("node");
        command
            .arg(mcp_dir().join("conformance/fixture-server.mjs"))
            .arg(port.to_string());
        Self::listening(command, port, "the conformance fixture").await
    }

    async fn listening(mut command: Command, port: u16, what: &str) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        for _ in 0..400 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self { child };
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("{what} exited at start: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{what} did not listen on port {port} within 20 s");
    }

    pub(crate) async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}
