//! The files of the quickstart example and the walkthrough it prints.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::keys::{write_pair, write_private};

pub(crate) const AGENT: &str = "spiffe://acme/agent/triage-bot";

const CONFIG: &str = r#"# Gatehouse quickstart: one agent, two tools in two segments.
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
intents = ["ticket.create", "ticket.read", "ticket.list", "ticket.delete", "ticket.escalate"]
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
    write_pair(
        &dir.join("keys/triage-bot.key"),
        &dir.join("keys/triage-bot.pub"),
    )?;
    std::fs::write(dir.join("policies/schema.cedarschema"), SCHEMA)?;
    std::fs::write(dir.join("policies/triage.cedar"), POLICY)?;
    let config = CONFIG.replace("@OPERATOR_SHA256@", &digest_hex);
    std::fs::write(dir.join("gatehouse.toml"), config).context("cannot write gatehouse.toml")
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buffer);
    buffer.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The walkthrough printed once the example runs.
pub(crate) fn what_to_try(dir: &Path, data: SocketAddr, control: SocketAddr) -> String {
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

Stop with Ctrl-C.
"#
    )
}
