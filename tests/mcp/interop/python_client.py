"""The Python MCP SDK (mcp 2.x) against Gatehouse, in one protocol era.

    python_client.py legacy   # initialize handshake, 2025-11-25, Mcp-Session-Id
    python_client.py auto     # server/discover, stateless 2026-07-28

Run by scripts/mcp-interop.sh, which sets INTEROP_* in the environment. Prints one
`interop: PASS name` or `interop: FAIL name: why` line per check; exits 0 when each check
ran (pass or fail), nonzero only when the client itself broke.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

MODE = sys.argv[1] if len(sys.argv) > 1 else "legacy"
LABEL = {"legacy": "py-2025-11-25", "auto": "py-2026-07-28"}[MODE]
EXPECTED_VERSION = {"legacy": "2025-11-25", "auto": "2026-07-28"}[MODE]

DATA = os.environ["INTEROP_DATA"]  # http://127.0.0.1:PORT
CONTROL = os.environ["INTEROP_CONTROL"]
TOKEN = os.environ["INTEROP_TOKEN"]
OPERATOR = os.environ["INTEROP_OPERATOR_TOKEN"]
ROOT = Path(os.environ["INTEROP_FS_ROOT"])

# The tools of server-everything that policy lets this agent see (get-env is mapped but
# not permitted; the other dozen are not mapped).
VISIBLE_EVERYTHING = {
    "echo",
    "get-sum",
    "get-tiny-image",
    "get-annotated-message",
    "get-structured-content",
}


def report(name: str, ok: bool, why: str = "") -> None:
    line = f"interop: PASS {LABEL} {name}" if ok else f"interop: FAIL {LABEL} {name}: {why}"
    print(line, flush=True)


async def check(name: str, body: Any) -> None:
    """Runs one check; an exception is its failure, never the suite's end."""
    try:
        outcome = await body()
    except Exception as error:  # noqa: BLE001 - any error is this check's failure
        report(name, False, f"{type(error).__name__}: {error}")
        return
    ok, why = outcome if isinstance(outcome, tuple) else (bool(outcome), "")
    report(name, ok, why)


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def refusal_of(result: Any) -> dict[str, Any]:
    """Gatehouse's refusal data: in `structuredContent.gatehouse`, or in the result's
    `_meta["gatehouse/refusal"]` (where a tool's outputSchema cannot be contradicted)."""
    structured = result.structured_content if isinstance(result.structured_content, dict) else {}
    meta = result.meta if isinstance(result.meta, dict) else {}
    return structured.get("gatehouse") or meta.get("gatehouse/refusal") or {}


def connect(server: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    return Client(streamable_http_client(f"{DATA}/mcp/{server}", http_client=http), mode=MODE)


async def unknown_tool_error(
    client: Client, name: str, arguments: dict[str, Any]
) -> MCPError | None:
    try:
        await client.call_tool(name, arguments)
    except MCPError as error:
        return error
    return None


async def everything_checks() -> None:
    async with connect("everything") as client:
        await check(
            "protocol version",
            lambda: _eq(client.protocol_version, EXPECTED_VERSION),
        )

        async def listing() -> tuple[bool, str]:
            names = {tool.name for tool in (await client.list_tools()).tools}
            return names == VISIBLE_EVERYTHING, f"listed {sorted(names)}"

        await check("tools/list shows only permitted tools (get-env hidden)", listing)

        async def echo() -> tuple[bool, str]:
            result = await client.call_tool("echo", {"message": f"hello from {LABEL}"})
            text = text_of(result)
            return (not result.is_error and text == f"Echo: hello from {LABEL}"), f"got {text!r}"

        await check("echo returns the server's text", echo)

        async def small_sum() -> tuple[bool, str]:
            result = await client.call_tool("get-sum", {"a": 2, "b": 3})
            text = text_of(result)
            return (not result.is_error and "5" in text), f"got {text!r}"

        await check("get-sum a=2 b=3 allowed by a < 100", small_sum)

        async def large_sum() -> tuple[bool, str]:
            result = await client.call_tool("get-sum", {"a": 1000, "b": 1})
            refusal = refusal_of(result)
            ok = (
                result.is_error
                and refusal.get("refusal") == "policy-denied"
                and refusal.get("decision_id")
            )
            return bool(ok), f"isError={result.is_error} structured={result.structured_content}"

        await check("get-sum a=1000 refused policy-denied with a decision id", large_sum)

        async def hidden() -> tuple[bool, str]:
            denied = await unknown_tool_error(client, "get-env", {})
            unknown = await unknown_tool_error(client, "no-such-tool", {})
            if denied is None or unknown is None:
                return False, f"expected JSON-RPC errors, got denied={denied!r} unknown={unknown!r}"
            same = denied.code == unknown.code == -32602
            worded = (
                denied.message == "Unknown tool: get-env"
                and unknown.message == "Unknown tool: no-such-tool"
            )
            return (
                same and worded,
                f"get-env: {denied.code} {denied.message!r}; "
                f"no-such-tool: {unknown.code} {unknown.message!r}",
            )

        await check("hidden get-env refused exactly like an unknown tool (-32602)", hidden)


async def files_checks() -> None:
    reports = ROOT / "reports"
    async with connect("files") as client:

        async def listing() -> tuple[bool, str]:
            names = {tool.name for tool in (await client.list_tools()).tools}
            return names == {
                "read_text_file",
                "list_directory",
                "write_file",
            }, f"listed {sorted(names)}"

        await check("files tools/list shows the three mapped tools", listing)

        async def read_report() -> tuple[bool, str]:
            result = await client.call_tool("read_text_file", {"path": str(reports / "q3.txt")})
            text = text_of(result)
            return (not result.is_error and text == "q3 revenue: 42\n"), f"got {text!r}"

        await check("read_text_file under reports/ returns the file", read_report)

        async def read_secret() -> tuple[bool, str]:
            result = await client.call_tool(
                "read_text_file", {"path": str(ROOT / "secret" / "keys.txt")}
            )
            refusal = refusal_of(result)
            leaked = "hunter2" in text_of(result)
            ok = result.is_error and refusal.get("refusal") == "policy-denied" and not leaked
            return bool(
                ok
            ), f"isError={result.is_error} structured={result.structured_content} leaked={leaked}"

        await check("read_text_file under secret/ refused policy-denied", read_secret)

        async def dotdot() -> tuple[bool, str]:
            sneaky = f"{reports}/../secret/keys.txt"
            try:
                result = await client.call_tool("read_text_file", {"path": sneaky})
            except MCPError as error:
                return (
                    error.code == -32602 and "path" in error.message,
                    f"{error.code} {error.message!r}",
                )
            return False, f"not refused: isError={result.is_error} text={text_of(result)[:80]!r}"

        await check("read_text_file with `..` refused as bad arguments (-32602)", dotdot)

        await approval_flow(client)


async def approval_flow(client: Client) -> None:
    """A high-tier write parks; an approver approves; the re-sent call gets the result."""
    target = ROOT / "reports" / f"{LABEL}.txt"
    arguments = {"path": str(target), "content": f"written by {LABEL}\n"}
    state: dict[str, Any] = {}

    async def parks() -> tuple[bool, str]:
        result = await client.call_tool("write_file", arguments)
        refusal = refusal_of(result)
        state["id"] = refusal.get("approval_id")
        ok = result.is_error and refusal.get("refusal") == "approval-pending" and state["id"]
        return (
            bool(ok) and not target.exists(),
            f"structured={result.structured_content} written={target.exists()}",
        )

    await check("write_file (high tier) parks for approval, nothing written", parks)
    approval = state.get("id")
    if not approval:
        report("approved write_file returns the server's result", False, "no approval id")
        report(
            "re-sending the approved call replays the stored result, not the write",
            False,
            "no approval id",
        )
        return

    async def approved() -> tuple[bool, str]:
        approve(approval, f"interop {LABEL}")
        result = await resend_until_settled(client, "write_file", arguments, approval)
        text = text_of(result)
        written = target.read_text() if target.exists() else None
        ok = (
            not result.is_error
            and text == f"Successfully wrote to {target}"
            and written == arguments["content"]
        )
        return ok, f"isError={result.is_error} text={text!r} file={written!r}"

    await check("approved write_file returns the server's result", approved)

    async def once() -> tuple[bool, str]:
        target.write_text("changed after approval\n")
        result = await client.call_tool(
            "write_file", arguments, meta={"gatehouse/approval": approval}
        )
        text = text_of(result)
        unchanged = target.read_text() == "changed after approval\n"
        return (not result.is_error and unchanged), f"text={text!r} rewritten={not unchanged}"

    await check("re-sending the approved call replays the stored result, not the write", once)


async def resend_until_settled(
    client: Client, name: str, arguments: dict[str, Any], approval: str
) -> Any:
    """Gatehouse runs an approved call in the background: ask until it is no longer pending."""
    for _ in range(100):
        result = await client.call_tool(name, arguments, meta={"gatehouse/approval": approval})
        if refusal_of(result).get("refusal") != "approval-pending":
            return result
        await asyncio.sleep(0.1)
    return result


def approve(approval: str, reason: str) -> None:
    request = urllib.request.Request(
        f"{CONTROL}/v1/approvals/{approval}/approve",
        data=json.dumps({"reason": reason}).encode(),
        headers={"Authorization": f"Bearer {OPERATOR}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    if body.get("status") not in ("approved", "executing", "done"):
        raise RuntimeError(f"approval answered {body.get('status')!r}")


async def _eq(actual: Any, expected: Any) -> tuple[bool, str]:
    return actual == expected, f"got {actual!r}, expected {expected!r}"


async def main() -> None:
    await everything_checks()
    await files_checks()


if __name__ == "__main__":
    asyncio.run(main())
