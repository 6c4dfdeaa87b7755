#!/usr/bin/env bash
# Instructions per call through the gateway, counted by callgrind: repeatable whatever else
# the machine is doing, unlike wall-clock benchmarks (docs/benchmarks.md). Serves the
# quickstart example under `valgrind --tool=callgrind`, makes WARM calls, zeroes the
# counters, makes CALLS calls on one keep-alive connection, dumps, and prints the
# instructions per call (the gateway and its bundled example tool, in one process, with
# their background tasks) and the top functions by inclusive count.
#
#   scripts/callgrind.sh [BIN]        # BIN defaults to target/release/gatehouse
#
# Environment: CALLS (2000), WARM (200), PORT_BASE (28080: data, +1 control, +10..+12 the
# example tools and MCP server), KIND (http: GET /tools/tickets/tickets/0; mcp: tools/call
# get_ticket through /mcp/helpdesk), KEEP=1 keeps the temporary directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$root/target/release/gatehouse}"
calls="${CALLS:-2000}"
warm="${WARM:-200}"
base="${PORT_BASE:-28080}"
kind="${KIND:-http}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-callgrind.XXXXXX")"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ "${KEEP:-0}" = 1 ] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT

command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }
"$bin" quickstart --dir "$tmp/q" --no-serve >/dev/null
config="$tmp/q/gatehouse.toml"
sed -i -E -e "s#127\.0\.0\.1:8090#127.0.0.1:$((base + 10))#; s#127\.0\.0\.1:8091#127.0.0.1:$((base + 11))#; s#127\.0\.0\.1:8092#127.0.0.1:$((base + 12))#" \
  -e '/^budget *=/ { s/calls *= *[0-9]+/calls = 1000000000/; s/bytes *= *[0-9]+/bytes = 1000000000000/ }' "$config"
printf '\n[gateway.limits]\ntoken_rate_per_peer = 1000000000\ntoken_burst_per_peer = 1000000000\n' >>"$config"

valgrind --tool=callgrind --callgrind-out-file="$tmp/callgrind.out" \
  "$bin" quickstart --dir "$tmp/q" --data-listen "127.0.0.1:$base" \
  --control-listen "127.0.0.1:$((base + 1))" >"$tmp/gatehouse.log" 2>&1 &
pid="$!"

for _ in $(seq 600); do
  curl -s -o /dev/null "http://127.0.0.1:$((base + 1))/healthz" && break
  sleep 0.1
done
assertion="$("$bin" agent assertion --ttl 300 --key "$tmp/q/keys/triage-bot.key" --agent spiffe://acme/agent/triage-bot)"
token="$(curl -s "http://127.0.0.1:$base/v1/token" -d workflow=wf-callgrind -d task_class=triage \
  --data-urlencode "assertion=$assertion" | sed -nE 's/.*"access_token":"([^"]+)".*/\1/p')"
[ -n "$token" ] || { echo "callgrind.sh: no token" >&2; cat "$tmp/gatehouse.log" >&2; exit 1; }

drive() {
  python3 - "$base" "$token" "$kind" "$1" <<'PY'
import http.client, sys
port, token, kind, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port)
body = ('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_ticket","arguments":{"id":0},'
        '"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}')
for _ in range(n):
    if kind == "mcp":
        conn.request("POST", "/mcp/helpdesk", body, {"Authorization": "Bearer " + token,
            "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "get_ticket"})
    else:
        conn.request("GET", "/tools/tickets/tickets/0", headers={"Authorization": "Bearer " + token})
    r = conn.getresponse(); r.read()
    if r.status != 200:
        sys.exit(f"call answered {r.status}")
PY
}

drive "$warm"
callgrind_control --zero "$pid" >/dev/null
drive "$calls"
sleep 0.5 # let the event writer's batch land: it is part of every call's cost
callgrind_control --dump "$pid" >/dev/null
dump="$(ls "$tmp"/callgrind.out.* | sort -V | tail -n1)"
total="$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')"
echo "kind=$kind calls=$calls instructions=$total per_call=$((total / calls))"
callgrind_annotate --inclusive=yes "$dump" 2>/dev/null | sed -n '/^Ir/,$p' | head -n "${TOP:-40}"
