#!/usr/bin/env bash
# Gatehouse's MCP face against real MCP SDK clients, real MCP servers and the MCP
# conformance suite. docs/mcp-conformance.md has the results and how to read them.
#
#   scripts/mcp-interop.sh                     the interop checks (about 10 s)
#   scripts/mcp-interop.sh --conformance       the interop checks, then the conformance suite
#   scripts/mcp-interop.sh --conformance-only  the conformance suite alone (about 12 s)
#   INTEROP_HOLD=1 scripts/mcp-interop.sh      set up, print the environment, keep serving
#
# It runs scripts/mcp-deps.sh, builds target/debug/gatehouse only when it is missing,
# writes a fresh config directory from tests/mcp/interop/ (gatehouse.toml.in,
# policies/), starts server-everything over Streamable HTTP, the conformance fixture
# (tests/mcp/conformance/fixture-server.mjs) and Gatehouse, which launches
# server-filesystem over stdio itself. Then it drives Gatehouse's /mcp/{server} with the
# Python SDK (2025-11-25 handshake and 2026-07-28 stateless), the TypeScript SDK
# (2025-11-25) and raw HTTP, and, with --conformance, runs the conformance suite through
# Gatehouse against server-everything and the fixture, and against each directly as the
# control. Everything listens on 127.0.0.1 only; every child is killed on exit.
#
# Each interop check prints `interop: PASS name` or `interop: FAIL name: why`, each
# conformance scenario `conformance: PASS|FAIL target scenario`. The last lines are
# `interop: N passed, M failed` and `conformance: N passed, M failed` (the scenarios run
# through Gatehouse). The exit status is nonzero when an interop check failed, or a
# conformance scenario failed that tests/mcp/conformance/expected-failures-TARGET.yml
# does not list (or passed that it does). Logs and raw results: target/mcp-interop/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

interop=1
conformance=0
case "${1:-}" in
  "") ;;
  --conformance) conformance=1 ;;
  --conformance-only) interop=0; conformance=1 ;;
  *) echo "usage: scripts/mcp-interop.sh [--conformance | --conformance-only]" >&2; exit 64 ;;
esac

scripts/mcp-deps.sh
[ -x target/debug/gatehouse ] || cargo build --locked -p gatehouse

bin="$root/target/debug/gatehouse"
mcp="$root/tests/mcp"
python="$root/target/mcp-venv/bin/python"
node="$(command -v node)"
logs="$root/target/mcp-interop"
rm -rf "$logs"
mkdir -p "$logs"
work="$(mktemp -d /tmp/gatehouse-interop.XXXXXX)"
# realpath: server-filesystem compares resolved paths, and policy compares the spelling.
work="$(realpath "$work")"
children=()

cleanup() {
  local status=$?
  for pid in "${children[@]}"; do
    # Each child leads its own process group (setsid), so its own children go with it.
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${children[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts "$@" in its own process group, output to target/mcp-interop/NAME.log.
start() {
  local name="$1"
  shift
  setsid "$@" >"$logs/$name.log" 2>&1 &
  children+=("$!")
}

# Waits until something accepts connections on 127.0.0.1:$1.
wait_port() {
  local port="$1" what="$2"
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "mcp-interop: $what did not listen on 127.0.0.1:$port; the logs in $logs end:" >&2
  tail -n 5 "$logs"/*.log >&2
  exit 1
}

# Prints N free loopback ports (the kernel's choice; released just before use).
free_ports() {
  "$python" - "$1" <<'EOF'
import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
EOF
}

read -r data_port control_port everything_port fixture_port proxy_port <<<"$(free_ports 5)"

# ---- the servers' world: a directory with reports/ (readable) and secret/ (not) --------
fs_root="$work/files"
mkdir -p "$fs_root/reports" "$fs_root/secret"
printf 'q3 revenue: 42\n' >"$fs_root/reports/q3.txt"
printf 'root password: hunter2\n' >"$fs_root/secret/keys.txt"

# ---- the gateway's config ---------------------------------------------------------------
config_dir="$work/gatehouse"
mkdir -p "$config_dir/policies" "$config_dir/keys"
operator_token="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
operator_sha256="$(printf '%s' "$operator_token" | sha256sum | cut -d' ' -f1)"
fs_server="$mcp/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"
fill() {
  sed -e "s|@DATA_PORT@|$data_port|g" -e "s|@CONTROL_PORT@|$control_port|g" \
      -e "s|@EVERYTHING_PORT@|$everything_port|g" -e "s|@FIXTURE_PORT@|$fixture_port|g" \
      -e "s|@FS_ROOT@|$fs_root|g" -e "s|@FS_SERVER@|$fs_server|g" -e "s|@NODE@|$node|g" \
      -e "s|@OPERATOR_SHA256@|$operator_sha256|g" "$1"
}
fill "$mcp/interop/gatehouse.toml.in" >"$config_dir/gatehouse.toml"
fill "$mcp/interop/policies/interop.cedar.in" >"$config_dir/policies/interop.cedar"
cp "$mcp/interop/policies/schema.cedarschema" "$config_dir/policies/"
"$bin" keys agent client --out "$config_dir/keys" >/dev/null
"$bin" policy check --config "$config_dir/gatehouse.toml" >"$logs/policy-check.log" 2>&1 || {
  cat "$logs/policy-check.log" >&2
  exit 1
}

# ---- start server-everything (Streamable HTTP), the fixture and Gatehouse ---------------
start everything env PORT="$everything_port" "$node" --require "$mcp/loopback.cjs" \
  "$mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js" streamableHttp
start fixture "$node" "$mcp/conformance/fixture-server.mjs" "$fixture_port"
start gatehouse "$bin" serve --config "$config_dir/gatehouse.toml"
wait_port "$everything_port" "server-everything"
wait_port "$fixture_port" "the conformance fixture"
wait_port "$data_port" "gatehouse"
wait_port "$control_port" "gatehouse (control)"

data="http://127.0.0.1:$data_port"
# A task credential for workflow $1: a fresh signed assertion, exchanged at /v1/token.
mint() {
  local assertion
  assertion="$("$bin" agent assertion --key "$config_dir/keys/client.key" \
                 --agent spiffe://interop/agent/client --audience gatehouse)"
  curl -fsS "$data/v1/token" -d "workflow=$1" -d task_class=interop \
       --data-urlencode "assertion=$assertion" \
    | "$python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in tests/mcp/interop
export INTEROP_DATA="$data"
export INTEROP_CONTROL="http://127.0.0.1:$control_port"
export INTEROP_OPERATOR_TOKEN="$operator_token"
export INTEROP_FS_ROOT="$fs_root"

# Runs one client ($1 names it), its output into the interop log; a client that breaks
# (exits nonzero) counts as one more failure.
client() {
  local name="$1" status=0
  shift
  INTEROP_TOKEN="$(mint "wf-$name")" "$@" 2>"$logs/$name.stderr" \
    | tee -a "$logs/interop.log" || status=$?
  if [ "$status" -ne 0 ]; then
    local last
    last="$(tail -n1 "$logs/$name.stderr")"
    echo "interop: FAIL $name: the client exited with status $status ($last)" \
      | tee -a "$logs/interop.log"
  fi
}

if [ "${INTEROP_HOLD:-0}" = 1 ]; then
  # For reproducing by hand: print the environment and keep everything running.
  echo "export INTEROP_DATA=$INTEROP_DATA INTEROP_CONTROL=$INTEROP_CONTROL INTEROP_FS_ROOT=$fs_root"
  echo "export INTEROP_OPERATOR_TOKEN=$operator_token INTEROP_TOKEN=$(mint wf-by-hand)"
  echo "mcp-interop: holding (config in $config_dir); Ctrl-C or kill $$ ends it"
  start hold sleep infinity
  wait "${children[-1]}" || true
  exit 0
fi

failed_any=0
if [ "$interop" = 1 ]; then
  : >"$logs/interop.log"
  client py-2025-11-25 "$python" "$mcp/interop/python_client.py" legacy
  client py-2026-07-28 "$python" "$mcp/interop/python_client.py" auto
  client ts-2025-11-25 "$node" "$mcp/interop/ts_client.mjs"
  client raw "$python" "$mcp/interop/raw_http.py"
  passed="$(grep -c '^interop: PASS ' "$logs/interop.log" || true)"
  failed="$(grep -c '^interop: FAIL ' "$logs/interop.log" || true)"
  [ "$passed" -gt 0 ] || failed=$((failed + 1))
  [ "$failed" -eq 0 ] || failed_any=1
fi

if [ "$conformance" = 1 ]; then
  # The suite cannot send a bearer token: a loopback proxy adds it to every request.
  CONFORMANCE_TOKEN="$(mint wf-conformance)"
  export CONFORMANCE_TOKEN
  start proxy "$node" "$mcp/conformance/proxy.mjs" "$proxy_port" "$data"
  wait_port "$proxy_port" "the conformance proxy"
  : >"$logs/conformance-summary.log"
  # Runs the whole suite (active and pending scenarios) against $2, as target $1, with
  # the baseline tests/mcp/conformance/expected-failures-$1.yml.
  suite() {
    local label="$1" url="$2" status=0
    (cd "$mcp" && "$node" --import ./conformance/hooks.mjs \
        node_modules/@modelcontextprotocol/conformance/dist/index.js \
        server --url "$url" --suite all \
        --expected-failures "conformance/expected-failures-$label.yml" \
        -o "$logs/conformance-$label") >"$logs/conformance-$label.log" 2>&1 || status=$?
    "$node" "$mcp/conformance/summary.mjs" "$label" "$logs/conformance-$label" \
      "$mcp/conformance/expected-failures-$label.yml" | tee -a "$logs/conformance-summary.log"
    [ "$status" -eq 0 ] || failed_any=1
  }
  # Each server through Gatehouse, then alone (the control): a scenario that fails both
  # ways is the server's (a fixture mismatch); one that fails only through Gatehouse is
  # Gatehouse's.
  suite everything "http://127.0.0.1:$proxy_port/mcp/everything"
  suite everything-direct "http://127.0.0.1:$everything_port/mcp"
  suite fixture "http://127.0.0.1:$proxy_port/mcp/fixture"
  suite fixture-direct "http://127.0.0.1:$fixture_port/mcp"
fi

if [ "$interop" = 1 ]; then
  echo "interop: $passed passed, $failed failed"
fi
if [ "$conformance" = 1 ]; then
  # The total over both servers reached through Gatehouse (the direct controls are not
  # counted).
  grep -E '^conformance\[(everything|fixture)\]:' "$logs/conformance-summary.log" \
    | awk '{p += $2; f += $4} END {printf "conformance: %d passed, %d failed\n", p, f}'
fi
exit "$failed_any"
