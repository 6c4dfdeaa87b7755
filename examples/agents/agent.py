"""A Gatehouse agent in Python: sign an identity assertion with the key written by
`gatehouse keys agent`, exchange it at /v1/token for a task credential, call an HTTP
tool and an MCP server through the gateway.

Needs only `cryptography` (pip install cryptography); HTTP is the standard library's.
Configured by the environment (defaults fit `gatehouse quickstart`):

  GATEHOUSE_URL       the data plane, default http://127.0.0.1:8080
  GATEHOUSE_AGENT     the agent id, default spiffe://acme/agent/triage-bot
  GATEHOUSE_KEY       the agent's private key, default gatehouse-quickstart/keys/triage-bot.key
  GATEHOUSE_AUDIENCE  the gateway's `audience`, default gatehouse
  GATEHOUSE_WORKFLOW  the workflow this run belongs to, default wf-python
"""

import base64
import json
import os
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request

from cryptography.hazmat.primitives.serialization import load_pem_private_key

URL = os.environ.get("GATEHOUSE_URL", "http://127.0.0.1:8080")
AGENT = os.environ.get("GATEHOUSE_AGENT", "spiffe://acme/agent/triage-bot")
KEY = os.environ.get("GATEHOUSE_KEY", "gatehouse-quickstart/keys/triage-bot.key")
AUDIENCE = os.environ.get("GATEHOUSE_AUDIENCE", "gatehouse")
WORKFLOW = os.environ.get("GATEHOUSE_WORKFLOW", "wf-python")
MCP_VERSION = "2026-07-28"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assertion() -> str:
    """An EdDSA JWT: iss = sub = the agent, aud = the gateway, at most 5 minutes, a
    fresh jti (each assertion is accepted once)."""
    with open(KEY, "rb") as file:
        key = load_pem_private_key(file.read(), password=None)
    now = int(time.time())
    header = {"alg": "EdDSA", "typ": "JWT"}
    claims = {"iss": AGENT, "sub": AGENT, "aud": AUDIENCE, "iat": now, "exp": now + 60,
              "jti": secrets.token_hex(16)}
    signing_input = ".".join(b64url(json.dumps(part).encode()) for part in (header, claims))
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def compact(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def request(method, path, body=None, headers=None):
    """(status, parsed JSON body); refusals are problem documents, not exceptions."""
    req = urllib.request.Request(URL + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def task_credential() -> str:
    form = urllib.parse.urlencode(
        {"assertion": assertion(), "workflow": WORKFLOW, "task_class": "triage"}).encode()
    status, body = request("POST", "/v1/token", form,
                           {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise SystemExit(f"token: {status} {body}")
    return body["access_token"]


def call_tool(token: str):
    status, body = request("POST", "/tools/tickets/tickets",
                           json.dumps({"title": "disk full"}).encode(),
                           {"Authorization": f"Bearer {token}",
                            "Content-Type": "application/json"})
    print(f"tool: {status} {compact(body)}")


def call_mcp(token: str):
    """One stateless (2026-07-28) MCP tools/call; no handshake needed."""
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "create_ticket", "arguments": {"title": "printer on fire"},
        "_meta": {"io.modelcontextprotocol/protocolVersion": MCP_VERSION,
                  "io.modelcontextprotocol/clientCapabilities": {}}}}
    status, body = request("POST", "/mcp/helpdesk", json.dumps(message).encode(), {
        "Authorization": f"Bearer {token}", "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": MCP_VERSION,
        "Mcp-Method": "tools/call", "Mcp-Name": "create_ticket"})
    result = body.get("result", {}) if isinstance(body, dict) else {}
    print(f"mcp: {status} isError={result.get('isError')} "
          f"{compact(result.get('structuredContent'))}")


def main():
    token = task_credential()
    print("token: ok")
    call_tool(token)
    call_mcp(token)


if __name__ == "__main__":
    main()
