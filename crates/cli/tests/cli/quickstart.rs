//! `gatehouse quickstart` as a newcomer runs it: the example it writes, served with its
//! example tools and MCP server, driven as the printed walkthrough drives it (MCP in the
//! stateless era).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gatehouse_kit::client::{Reply, send};
use http::Method;
use serde_json::{Value, json};

use crate::{example, gatehouse, rewrite};

const AGENT: &str = "spiffe://acme/agent/triage-bot";

/// A running `gatehouse quickstart`, killed on drop.
struct Quickstart {
    child: Child,
    example: PathBuf,
    data: String,
    control: String,
    mcp: String,
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves the example on free ports: the tools moved in its config, the gateway and the
/// MCP server moved with the command's flags.
async fn quickstart(example: &Path) -> Quickstart {
    let [data, control, mcp, tickets, deploy] = [(); 5].map(|()| free_port());
    rewrite(&example.join("gatehouse.toml"), |text| {
        text.replace("127.0.0.1:8090", &format!("127.0.0.1:{tickets}"))
            .replace("127.0.0.1:8091", &format!("127.0.0.1:{deploy}"))
    });
    let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["quickstart", "--dir", example.to_str().unwrap()])
        .args(["--data-listen", &format!("127.0.0.1:{data}")])
        .args(["--control-listen", &format!("127.0.0.1:{control}")])
        .args(["--mcp-listen", &format!("127.0.0.1:{mcp}")])
        .env("GATEHOUSE_LOG", "debug")
        .stdout(std::fs::File::create(example.join("stdout.log")).unwrap())
        .stderr(std::fs::File::create(example.join("stderr.log")).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let served = Quickstart {
        child,
        example: example.to_owned(),
        data: format!("http://127.0.0.1:{data}"),
        control: format!("http://127.0.0.1:{control}"),
        mcp: format!("http://127.0.0.1:{mcp}/mcp"),
    };
    for _ in 0..200 {
        if served.stdout().contains("Stop with Ctrl-C") {
            return served;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("gatehouse quickstart did not come up: {}", served.stdout());
}

impl Quickstart {
    fn stdout(&self) -> String {
        std::fs::read_to_string(self.example.join("stdout.log")).unwrap_or_default()
    }

    /// A task credential for `workflow`, as step 1 of the walkthrough gets it.
    async fn token(&self, workflow: &str) -> String {
        let key = self.example.join("keys/triage-bot.key");
        let key = key.to_str().unwrap();
        let output = gatehouse(&["agent", "assertion", "--key", key, "--agent", AGENT]);
        let assertion = String::from_utf8(output.stdout).unwrap();
        let body = format!(
            "assertion={}&workflow={workflow}&task_class=triage",
            assertion.trim()
        );
        let url = format!("{}/v1/token", self.data);
        let form = [("content-type", "application/x-www-form-urlencoded")];
        let reply = send(Method::POST, &url, &form, body).await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// One stateless-era request to `/mcp/helpdesk`, with the headers the walkthrough
    /// sends; the revision joins whatever `_meta` the params already have.
    async fn mcp(&self, token: &str, method: &str, mut params: Value) -> Reply {
        let mut meta = params["_meta"].take();
        if !meta.is_object() {
            meta = json!({});
        }
        meta["io.modelcontextprotocol/protocolVersion"] = json!("2026-07-28");
        meta["io.modelcontextprotocol/clientCapabilities"] = json!({});
        params["_meta"] = meta;
        let name = params["name"].as_str().unwrap_or_default().to_owned();
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let auth = format!("Bearer {token}");
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", method),
        ];
        if !name.is_empty() {
            headers.push(("mcp-name", &name));
        }
        let url = format!("{}/mcp/helpdesk", self.data);
        send(Method::POST, &url, &headers, body.to_string())
            .await
            .unwrap()
    }

    async fn call(&self, token: &str, tool: &str, arguments: Value) -> Value {
        let params = json!({"name": tool, "arguments": arguments});
        let reply = self.mcp(token, "tools/call", params).await;
        reply
            .json()
            .unwrap_or_else(|| panic!("not JSON: {}", reply.text()))
    }

    /// The event with this decision id, from the control plane.
    async fn event(&self, decision: &str) -> Value {
        let token = std::fs::read_to_string(self.example.join("operator.token")).unwrap();
        let auth = format!("Bearer {}", token.trim());
        let url = format!("{}/v1/events/{decision}", self.control);
        for _ in 0..100 {
            let reply = send(Method::GET, &url, &[("authorization", &auth)], "")
                .await
                .unwrap();
            if reply.status == 200 {
                return reply.json().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no event {decision}");
    }
}

fn refusal(reply: &Value) -> &Value {
    assert_eq!(reply["result"]["isError"], true, "{reply}");
    &reply["result"]["structuredContent"]["gatehouse"]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quickstart_serves_its_mcp_helpdesk_as_policy_allows() {
    let (_dir, example) = example();
    let served = quickstart(&example).await;
    let stdout = served.stdout();
    assert!(
        stdout.contains(&format!("{}/mcp/helpdesk", served.data))
            && stdout.contains("Mcp-Name: create_ticket"),
        "the walkthrough shows MCP: {stdout}"
    );
    let token = served.token("wf-mcp").await;

    let listed = served.mcp(&token, "tools/list", json!({})).await;
    let body = listed.json().unwrap();
    let names: Vec<&str> = body["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {body}"))
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["create_ticket", "get_ticket", "search_tickets"]);

    let created = served
        .call(&token, "create_ticket", json!({"title": "printer on fire"}))
        .await;
    assert_eq!(
        created["result"]["structuredContent"],
        json!({"id": 1, "title": "printer on fire", "status": "open"}),
        "{created}"
    );
    let found = served
        .call(
            &token,
            "search_tickets",
            json!({"query": "printer", "limit": 50}),
        )
        .await;
    assert_eq!(found["result"]["structuredContent"]["tickets"][0]["id"], 1);

    let password = served
        .call(
            &token,
            "create_ticket",
            json!({"title": "my password is hunter2"}),
        )
        .await;
    let refused = refusal(&password);
    assert_eq!(refused["refusal"], "policy-denied");
    let event = served.event(refused["decision_id"].as_str().unwrap()).await;
    assert_eq!(event["intent"], "helpdesk.create_ticket");
    assert_eq!(event["policies"], json!(["no-passwords-in-ticket-titles"]));
    let too_many = served
        .call(&token, "search_tickets", json!({"query": "", "limit": 500}))
        .await;
    assert_eq!(refusal(&too_many)["refusal"], "policy-denied");

    let delete = served.call(&token, "delete_ticket", json!({"id": 1})).await;
    assert_eq!(delete["error"]["message"], "Unknown tool: delete_ticket");

    // The server wants its own secret, which only Gatehouse holds.
    let direct = send(
        Method::POST,
        &served.mcp,
        &[],
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    )
    .await
    .unwrap();
    assert_eq!(direct.status, 401);
    let secret = std::fs::read_to_string(example.join("secrets/helpdesk.secret")).unwrap();
    let events = std::fs::read_to_string(example.join("data/events.jsonl")).unwrap_or_default();
    for output in [stdout, events, served.stdout(), password.to_string()] {
        assert!(
            !output.contains(secret.trim()),
            "the helpdesk secret leaked"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_that_permits_mcp_deletes_still_waits_for_an_approver_each_time() {
    let (_dir, example) = example();
    let policies = example.join("policies/helpdesk.cedar");
    rewrite(&policies, |text| {
        text + r#"
@id("triage-deletes-helpdesk-tickets")
permit (principal in Gatehouse::Group::"triage", action == Gatehouse::Action::"helpdesk.delete_ticket", resource);
"#
    });
    let served = quickstart(&example).await;
    let token = served.token("wf-mcp-delete").await;
    served
        .call(&token, "create_ticket", json!({"title": "printer on fire"}))
        .await;
    let parked = served.call(&token, "delete_ticket", json!({"id": 1})).await;
    let refused = refusal(&parked);
    assert_eq!(refused["refusal"], "approval-pending", "{parked}");
    let approval = refused["approval_id"].as_str().unwrap().to_owned();

    let token_file = example.join("operator.token");
    let approved = gatehouse(&[
        "approvals",
        "approve",
        &approval,
        "--reason",
        "duplicate",
        "--control",
        &served.control,
        "--token-file",
        token_file.to_str().unwrap(),
    ]);
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    // As the README says: the same call again, naming its approval, runs it once.
    let again = json!({"name": "delete_ticket", "arguments": {"id": 1},
                       "_meta": {"gatehouse/approval": approval}});
    let mut result = Value::Null;
    for _ in 0..200 {
        result = served
            .mcp(&token, "tools/call", again.clone())
            .await
            .json()
            .unwrap();
        if result["result"]["isError"] != true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        result["result"]["structuredContent"],
        json!({"deleted": 1}),
        "{result}"
    );
    let gone = served.call(&token, "get_ticket", json!({"id": 1})).await;
    assert_eq!(
        gone["result"]["content"][0]["text"], "no ticket #1",
        "{gone}"
    );
}
