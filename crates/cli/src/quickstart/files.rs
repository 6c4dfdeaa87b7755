//! The files of the quickstart example and the walkthrough it prints.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::keys::{write_pair, write_private};

pub(crate) const AGENT: &str = "spiffe://acme/agent/triage-bot";
/// The example's MCP server, served by the bundled [`ExampleMcp`].
///
/// [`ExampleMcp`]: gatehouse_kit::example_mcp::ExampleMcp
pub(crate) const MCP_SERVER: &str = "helpdesk";

const CONFIG: &str = r#"# Gatehouse quickstart: one agent, two tools in two segments, one MCP server.
[gateway]
audience = "gatehouse"
data_listen = "127.0.0.1:8080"
control_listen = "127.0.0.1:8081"
data_dir = "data"
events_file = "data/events.jsonl"

[policy]
dir = "policies"
schema = "policies/schema.cedarschema"

[segments.data]
description = "data-plane APIs"

[segments.control]
description = "control-plane APIs"

[agents."spiffe://acme/agent/triage-bot"]
public_key_file = "keys/triage-bot.pub"
groups = ["triage"]
task_classes = ["triage"]
attributes = { team = "support" }
owner = "support-lead@acme.example"

[task_classes.triage]
segment = "data"
intents = ["ticket.create", "ticket.read", "ticket.list", "ticket.delete", "ticket.escalate",
           "helpdesk.create_ticket", "helpdesk.get_ticket", "helpdesk.search_tickets", "helpdesk.delete_ticket"]
ttl_minutes = 15
workflow_ttl_minutes = 240
budget = { calls = 500, writes = 50, bytes = 10485760 }

[task_classes.release]
segment = "control"
intents = ["deploy.create", "deploy.list"]
ttl_minutes = 5

[tools.tickets]
url = "http://127.0.0.1:8090"
segment = "data"
auth = { secret_file = "secrets/tickets.secret" }
routes = [
  { method = "POST", path = "/tickets", intent = "ticket.create", data_class = "internal" },
  { method = "GET", path = "/tickets", intent = "ticket.list", data_class = "internal" },
  { method = "GET", path = "/tickets/{id}", intent = "ticket.read", data_class = "internal" },
  { method = "DELETE", path = "/tickets/{id}", intent = "ticket.delete", tier = "high" },
  { method = "POST", path = "/tickets/{id}/escalate", intent = "ticket.escalate", tier = "high" },
]

[tools.deploy]
url = "http://127.0.0.1:8091"
segment = "control"
auth = { secret_file = "secrets/deploy.secret" }
routes = [
  { method = "POST", path = "/deployments", intent = "deploy.create", tier = "high" },
  { method = "GET", path = "/deployments", intent = "deploy.list" },
]

# An MCP server over Streamable HTTP, reached by agents at /mcp/helpdesk. Only the tools
# listed here exist for them; each is intent `helpdesk.{tool}` with typed arguments that
# policies read as `context.args`.
[mcp_servers.helpdesk]
url = "http://127.0.0.1:8092/mcp"
segment = "data"
auth = { secret_file = "secrets/helpdesk.secret" }

[mcp_servers.helpdesk.tools.create_ticket]
args = { title = "string" }

[mcp_servers.helpdesk.tools.get_ticket]
access = "read"
args = { id = "long" }

[mcp_servers.helpdesk.tools.search_tickets]
access = "read"
args = { query = "string", limit = "long?" }

[mcp_servers.helpdesk.tools.delete_ticket]
tier = "high"
args = { id = "long" }

[approvals]
ttl_minutes = 60
console_url = "http://127.0.0.1:8081/console"

[[operators]]
name = "admin"
token_sha256 = "@OPERATOR_SHA256@"
roles = ["operator", "approver", "auditor"]
"#;

const SCHEMA: &str = r#"// Entity types the policies may use; Gatehouse adds the actions (one per intent,
// grouped under "read" and "write") and the request context.
namespace Gatehouse {
  entity Group;
  entity Agent in [Group] = { team: String };
  entity Segment;
  entity Tool in [Segment];
}
"#;

const POLICY: &str = r#"// Triage agents may read and file tickets in the data segment.
@id("triage-reads-and-files-tickets")
permit (
  principal in Gatehouse::Group::"triage",
  action in [
    Gatehouse::Action::"ticket.create",
    Gatehouse::Action::"ticket.read",
    Gatehouse::Action::"ticket.list",
    Gatehouse::Action::"ticket.escalate"
  ],
  resource in Gatehouse::Segment::"data"
);

// No agent deletes tickets, whatever else permits it.
@id("agents-never-delete-tickets")
forbid (
  principal,
  action == Gatehouse::Action::"ticket.delete",
  resource
);
"#;

const MCP_POLICY: &str = r#"// Triage agents may file and read helpdesk tickets over MCP.
@id("triage-files-and-reads-helpdesk-tickets")
permit (
  principal in Gatehouse::Group::"triage",
  action in [
    Gatehouse::Action::"helpdesk.create_ticket",
    Gatehouse::Action::"helpdesk.get_ticket"
  ],
  resource == Gatehouse::Tool::"helpdesk"
);

// ... and search them, at most 50 at a time.
@id("triage-searches-helpdesk-50-at-a-time")
permit (
  principal in Gatehouse::Group::"triage",
  action == Gatehouse::Action::"helpdesk.search_tickets",
  resource == Gatehouse::Tool::"helpdesk"
)
unless { context.args has limit && context.args.limit > 50 };

// Everyone reads ticket titles: none may carry a password.
@id("no-passwords-in-ticket-titles")
forbid (
  principal,
  action == Gatehouse::Action::"helpdesk.create_ticket",
  resource
)
when { context.args.title like "*password*" };

// No policy permits `helpdesk.delete_ticket`, so agents are not even shown the tool. Its
// tier is `high`: should a policy ever permit it, each call still waits for a person.
"#;

/// Writes the whole example into `dir`.
pub(crate) fn write_example(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("policies"))?;
    std::fs::create_dir_all(dir.join("secrets"))?;
    let token = random_hex(32);
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let digest_hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    write_private(&dir.join("operator.token"), &format!("{token}\n"))?;
    write_private(&dir.join("secrets/tickets.secret"), &random_hex(24))?;
    write_private(&dir.join("secrets/deploy.secret"), &random_hex(24))?;
    write_private(&dir.join("secrets/helpdesk.secret"), &random_hex(24))?;
    write_pair(
        &dir.join("keys/triage-bot.key"),
        &dir.join("keys/triage-bot.pub"),
    )?;
    std::fs::write(dir.join("policies/schema.cedarschema"), SCHEMA)?;
    std::fs::write(dir.join("policies/triage.cedar"), POLICY)?;
    std::fs::write(dir.join("policies/helpdesk.cedar"), MCP_POLICY)?;
    let config = CONFIG.replace("@OPERATOR_SHA256@", &digest_hex);
    std::fs::write(dir.join("gatehouse.toml"), config).context("cannot write gatehouse.toml")
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buffer);
    buffer.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The walkthrough printed once the example runs; `mcp` adds the MCP steps.
pub(crate) fn what_to_try(dir: &Path, data: SocketAddr, control: SocketAddr, mcp: bool) -> String {
    let mut text = http_walkthrough(dir, data, control);
    if mcp {
        text.push_str(
            &MCP_WALKTHROUGH
                .replace("{data}", &data.to_string())
                .replace("{control}", &control.to_string())
                .replace("{dir}", &dir.display().to_string()),
        );
    }
    text.push_str("\nStop with Ctrl-C.\n");
    text
}

/// The MCP steps, in the stateless era so that no session has to be set up by hand.
const MCP_WALKTHROUGH: &str = r#"
  # 6. MCP: the `helpdesk` server behind /mcp/helpdesk, stateless era (2026-07-28): no
  #    session; each request names the revision in `_meta` and its method in headers
  mcp() { curl -s http://{data}/mcp/helpdesk -H "Authorization: Bearer $TOKEN" \
            -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
            -H 'MCP-Protocol-Version: 2026-07-28' "$@"; echo; }
  META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'

  # 7. tools/list shows only what policy lets this agent call (no delete_ticket)
  mcp -H 'Mcp-Method: tools/list' -d '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{'"$META"'}}'

  # 8. allowed: create_ticket (Gatehouse injects the server's own secret)
  mcp -H 'Mcp-Method: tools/call' -H 'Mcp-Name: create_ticket' \
      -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_ticket","arguments":{"title":"printer on fire"},'"$META"'}}'

  # 9. refused on its argument: policy forbids passwords in ticket titles
  mcp -H 'Mcp-Method: tools/call' -H 'Mcp-Name: create_ticket' \
      -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"create_ticket","arguments":{"title":"reset my password to hunter2"},'"$META"'}}'

  # 10. the MCP decisions, with their ids
  gatehouse events --tool helpdesk --control http://{control} --token-file {dir}/operator.token
"#;

fn http_walkthrough(dir: &Path, data: SocketAddr, control: SocketAddr) -> String {
    let dir = dir.display();
    format!(
        r#"
Gatehouse is running: data plane http://{data}, control plane http://{control}

Try it (in another shell):

  # 1. the agent proves its identity and gets a 15-minute credential for task class `triage`
  ASSERTION=$(gatehouse agent assertion --key {dir}/keys/triage-bot.key --agent {AGENT})
  TOKEN=$(curl -s http://{data}/v1/token -d workflow=wf-1 -d task_class=triage \
            --data-urlencode "assertion=$ASSERTION" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

  # 2. allowed: ticket.create
  curl -i http://{data}/tools/tickets/tickets -H "Authorization: Bearer $TOKEN" -d '{{"title":"disk full"}}'

  # 3. denied by policy: ticket.delete
  curl -i -X DELETE http://{data}/tools/tickets/tickets/1 -H "Authorization: Bearer $TOKEN"

  # 4. refused: a `data` credential on the `control` segment's tool
  curl -i http://{data}/tools/deploy/deployments -H "Authorization: Bearer $TOKEN"

  # 5. every decision, with its id
  gatehouse events --control http://{control} --token-file {dir}/operator.token
"#
    )
}
