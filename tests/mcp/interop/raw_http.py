"""Bad input at Gatehouse's MCP face, over raw HTTP (no SDK smooths anything over).

Run by scripts/mcp-interop.sh with INTEROP_* in the environment; prints one
`interop: PASS name` / `interop: FAIL name: why` line per check. Standard library only.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit

DATA = urlsplit(os.environ["INTEROP_DATA"])
TOKEN = os.environ["INTEROP_TOKEN"]
EVERYTHING = "/mcp/everything"
FILES = "/mcp/files"
MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}


def report(name: str, ok: bool, why: str = "") -> None:
    print(f"interop: PASS raw {name}" if ok else f"interop: FAIL raw {name}: {why}", flush=True)


def post(
    body: bytes | str | dict[str, Any],
    headers: dict[str, str] | None = None,
    auth: bool = True,
    path: str = EVERYTHING,
    method: str = "POST",
) -> tuple[int, dict[str, str], Any]:
    """One request (a POST unless `method` says otherwise) to the face at `path`; the
    JSON body parsed when there is one."""
    raw = (
        json.dumps(body).encode()
        if isinstance(body, dict)
        else body
        if isinstance(body, bytes)
        else body.encode()
    )
    sent = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if auth:
        sent["Authorization"] = f"Bearer {TOKEN}"
    sent.update(headers or {})
    connection = http.client.HTTPConnection(DATA.hostname, DATA.port, timeout=15)
    try:
        connection.request(method, path, body=raw, headers=sent)
        response = connection.getresponse()
        text = response.read()
        answer_headers = {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text.decode(errors="replace")
    return response.status, answer_headers, parsed


def rpc_code(body: Any) -> Any:
    return body.get("error", {}).get("code") if isinstance(body, dict) else None


def check(
    name: str, status: int, body: Any, want_code: int | None, want_status: int | None = None
) -> None:
    ok = (want_code is None or rpc_code(body) == want_code) and (
        want_status is None or status == want_status
    )
    report(name, ok, f"HTTP {status}, body {json.dumps(body)[:300]}")


def session(path: str = EVERYTHING) -> str:
    """A handshake-era session, initialized."""
    status, headers, body = post(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": HANDSHAKE,
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        },
        path=path,
    )
    sid = headers.get("mcp-session-id")
    if status != 200 or not sid:
        raise RuntimeError(f"initialize failed: HTTP {status} {body}")
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    post(initialized, {"Mcp-Session-Id": sid, "MCP-Protocol-Version": HANDSHAKE}, path=path)
    return sid


def approval_flow() -> None:
    """The high-tier flow without an SDK: park, approve on the control plane, re-send the
    same call (its `_meta` last) until the stored result comes back."""
    root = os.environ["INTEROP_FS_ROOT"]
    headers = {"Mcp-Session-Id": session(FILES), "MCP-Protocol-Version": HANDSHAKE}
    target = f"{root}/reports/raw.txt"
    params = {"name": "write_file", "arguments": {"path": target, "content": "written raw\n"}}
    _, _, body = post(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}, headers, path=FILES
    )
    result = (body or {}).get("result", {})
    refusal = (
        result.get("structuredContent", {}).get("gatehouse")
        or result.get("_meta", {}).get("gatehouse/refusal")
        or {}
    )
    approval = refusal.get("approval_id")
    if refusal.get("refusal") != "approval-pending" or not approval:
        report(
            "approval flow (park, approve, re-send)", False, f"not parked: {json.dumps(body)[:300]}"
        )
        return
    request = urllib.request.Request(
        f"{os.environ['INTEROP_CONTROL']}/v1/approvals/{approval}/approve",
        data=json.dumps({"reason": "interop raw"}).encode(),
        headers={
            "Authorization": f"Bearer {os.environ['INTEROP_OPERATOR_TOKEN']}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    resent = {**params, "_meta": {"gatehouse/approval": approval}}
    for attempt in range(100):
        call = {"jsonrpc": "2.0", "id": 2 + attempt, "method": "tools/call", "params": resent}
        _, _, body = post(call, headers, path=FILES)
        if "approval-pending" not in json.dumps(body):
            break
        time.sleep(0.1)
    text = (body or {}).get("result", {}).get("content", [{}])[0].get("text")
    written = open(target).read() if os.path.exists(target) else None
    report(
        "approval flow (park, approve, re-send)",
        text == f"Successfully wrote to {target}" and written == "written raw\n",
        f"answer {json.dumps(body)[:300]}, file {written!r}",
    )


def main() -> None:
    status, _, body = post(b'{"jsonrpc": "2.0", "id": 1, "method": ')
    check("malformed JSON is -32700", status, body, -32700, 400)

    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
    ]
    status, _, body = post(json.dumps(batch))
    check("a batch array is -32600", status, body, -32600, 400)

    call = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "hi"}, "_meta": ENVELOPE},
    }
    routing = {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call"}
    status, _, body = post(call, {**routing, "Mcp-Name": "echo"})
    ok = (
        status == 200
        and isinstance(body, dict)
        and body.get("result", {}).get("content", [{}])[0].get("text") == "Echo: hi"
    )
    report(
        "2026-07-28 tools/call with agreeing headers is answered",
        ok,
        f"HTTP {status}, body {json.dumps(body)[:300]}",
    )

    status, _, body = post(call, {**routing, "Mcp-Name": "get-env"})
    check("Mcp-Name disagreeing with the body is -32020 (2026-07-28)", status, body, -32020, 400)

    sid = session()
    in_session = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": HANDSHAKE}
    handshake_call = {
        "jsonrpc": "2.0",
        "id": 4,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "hi"}},
    }
    status, _, body = post(handshake_call, {**in_session, "Mcp-Name": "get-env"})
    check("Mcp-Name disagreeing with the body is -32020 (in a session)", status, body, -32020, 400)

    ping = {"jsonrpc": "2.0", "id": 7, "method": "ping"}
    first, _, first_body = post(ping, in_session)
    status, _, body = post(ping, in_session)
    report(
        "a reused request id in a session is -32600",
        first == 200 and "result" in (first_body or {}) and rpc_code(body) == -32600,
        f"first HTTP {first} {first_body}, second HTTP {status} {json.dumps(body)[:300]}",
    )

    # Three requests in flight at once in one session, each answered on its own POST.
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        calls = [{"jsonrpc": "2.0", "id": 100 + n, "method": "tools/list"} for n in range(3)]
        answers = list(pool.map(lambda call: post(call, in_session), calls))
    ok = all(
        status == 200 and body.get("id") == 100 + n and "tools" in body.get("result", {})
        for n, (status, _, body) in enumerate(answers)
    )
    report(
        "three concurrent POSTs in one session are each answered",
        ok,
        f"{[(status, json.dumps(body)[:80]) for status, _, body in answers]}",
    )

    status, _, body = post(
        {"jsonrpc": "2.0", "id": 8, "method": "ping"},
        {"Mcp-Session-Id": "0" * 32, "MCP-Protocol-Version": HANDSHAKE},
    )
    check("an unknown session id is HTTP 404", status, body, None, 404)

    status, headers, body = post(
        {"jsonrpc": "2.0", "id": 9, "method": "ping", "params": {"_meta": ENVELOPE}}, auth=False
    )
    challenge = headers.get("www-authenticate", "")
    report(
        "no credential is HTTP 401 with a Bearer challenge",
        status == 401 and challenge.startswith("Bearer"),
        f"HTTP {status}, WWW-Authenticate {challenge!r}, body {json.dumps(body)[:200]}",
    )

    status, _, body = post(
        {"jsonrpc": "2.0", "id": 10, "method": "tools/list"},
        {**in_session, "Origin": "http://evil.example"},
    )
    check("a foreign Origin is HTTP 403 (DNS rebinding)", status, body, None, 403)

    closed, _, _ = post(b"", in_session, method="DELETE")
    status, _, body = post({"jsonrpc": "2.0", "id": 11, "method": "ping"}, in_session)
    report(
        "DELETE ends the session; its next request is HTTP 404",
        closed == 200 and status == 404,
        f"DELETE {closed}, then HTTP {status} {json.dumps(body)[:200]}",
    )

    approval_flow()


if __name__ == "__main__":
    main()
