#!/usr/bin/env bash
# The agent examples (examples/agents/) against a real quickstart gateway: writes the
# quickstart into a temporary directory, moves every listener (gateway, example tools,
# example MCP server) to free loopback ports, serves it, runs the Python and the
# TypeScript example (compiled by `tsc` from examples/agents/package-lock.json), checks what each printed, and walks MCP authorization discovery with the
# Python MCP SDK's own functions (tests/mcp/discovery.py). The Python example's one dependency,
# `cryptography`, is installed into target/agents-venv when missing.
#
# Each check prints `agents: PASS name` or `agents: FAIL name: why`; the last line is
# `agents: N passed, M failed`, and the exit status is nonzero when one failed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

[ -x target/debug/gatehouse ] || cargo build --locked -p gatehouse
command -v node >/dev/null || { echo "the agent examples need node 20 or later" >&2; exit 1; }
# The TypeScript example: its compiler from the npm lock (installed when the lock changed),
# then compiled afresh.
ts_dir=examples/agents
ts_stamp="$ts_dir/node_modules/.lock-sha256"
ts_sum="$(sha256sum "$ts_dir/package-lock.json" | cut -d' ' -f1)"
if [ ! -d "$ts_dir/node_modules" ] || [ "$(cat "$ts_stamp" 2>/dev/null)" != "$ts_sum" ]; then
  (cd "$ts_dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$ts_sum" >"$ts_stamp"
fi
(cd "$ts_dir" && npx --no-install tsc)
venv="$root/target/agents-venv"
if ! "$venv/bin/python" -c 'import cryptography' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r examples/agents/requirements.txt
fi

bin="$root/target/debug/gatehouse"
work="$(mktemp -d /tmp/gatehouse-agents.XXXXXX)"
gateway_pid=""
cleanup() {
  local status=$?
  if [ -n "$gateway_pid" ]; then
    kill -TERM "$gateway_pid" 2>/dev/null || true
    wait "$gateway_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r data control tickets deploy helpdesk <<<"$("$venv/bin/python" - <<'PY'
import socket
sockets = [socket.socket() for _ in range(5)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
PY
)"

# The example tools listen where their `url` says: moving them is editing the config.
dir="$work/quickstart"
"$bin" quickstart --dir "$dir" --no-serve >/dev/null
sed -i -e "s|127.0.0.1:8090|127.0.0.1:$tickets|" -e "s|127.0.0.1:8091|127.0.0.1:$deploy|" \
  "$dir/gatehouse.toml"
"$bin" quickstart --dir "$dir" --data-listen "127.0.0.1:$data" \
  --control-listen "127.0.0.1:$control" --mcp-listen "127.0.0.1:$helpdesk" \
  >"$work/gateway.log" 2>&1 &
gateway_pid=$!
for _ in $(seq 1 150); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$data") 2>/dev/null; then break; fi
  sleep 0.1
done

passed=0
failed=0
check() {
  local name="$1" output="$2"
  shift 2
  local pattern
  for pattern in "$@"; do
    if ! grep -qE -- "$pattern" <<<"$output"; then
      echo "agents: FAIL $name: no line matching \`$pattern\` in:"
      sed 's/^/    /' <<<"$output"
      failed=$((failed + 1))
      return
    fi
  done
  echo "agents: PASS $name"
  sed 's/^/    /' <<<"$output"
  passed=$((passed + 1))
}

export GATEHOUSE_URL="http://127.0.0.1:$data"
export GATEHOUSE_KEY="$dir/keys/triage-bot.key"
expected=(
  '^token: ok$'
  '^tool: 201 .*"title":"disk full"'
  '^mcp: 200 isError=False .*"title":"printer on fire"'
)
check python "$("$venv/bin/python" examples/agents/agent.py 2>&1 || true)" "${expected[@]}"
check typescript "$(node examples/agents/dist/agent.js 2>&1 || true)" "${expected[@]}"
# The keys every stack reads are the ones `gatehouse keys agent` writes, not only the
# quickstart's: OpenSSL 3 too.
"$bin" keys agent fresh --out "$work" >/dev/null
check openssl "$(openssl pkey -in "$work/fresh.key" -noout 2>&1 && echo readable)" '^readable$'

# MCP authorization discovery as the Python MCP SDK performs it (its venv comes from
# scripts/mcp-deps.sh, which does nothing when it is up to date).
scripts/mcp-deps.sh
check mcp-discovery \
  "$(target/mcp-venv/bin/python tests/mcp/discovery.py "http://127.0.0.1:$data" helpdesk 2>&1 || true)" \
  "^token_endpoint: http://127.0.0.1:$data/v1/token\$"

echo "agents: $passed passed, $failed failed"
if [ "$failed" != 0 ]; then
  echo "the gateway's log ends:" >&2
  tail -n 20 "$work/gateway.log" >&2
  exit 1
fi
