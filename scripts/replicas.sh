#!/usr/bin/env bash
# N Gatehouse replicas on one PostgreSQL behind an nginx load balancer, on loopback
# (docs/deployment.md explains each piece):
#
#   scripts/replicas.sh [N]            start N replicas (default 3) and keep them running
#   scripts/replicas.sh [N] --check    start them, prove they act as one gateway, stop
#   scripts/replicas.sh [N] --bench    start them, measure throughput through nginx, stop
#
# Pieces: a throwaway PostgreSQL (scripts/postgres.sh, unless GATEHOUSE_TEST_POSTGRES
# names one); the quickstart example written once and shared (config, policies, agent
# and segment keys); replica 1 runs `gatehouse quickstart` (the gateway plus the example
# tools on 8090-8092), the others `gatehouse serve` with the same config on their own
# ports; nginx on 127.0.0.1:8080 (data plane) and 127.0.0.1:8081 (control plane).
# Environment: GATEHOUSE_BIN (default target/release/gatehouse, built if missing),
# DURATION (10, for --bench), CONNECTIONS (64, for --bench).
set -euo pipefail

count=3
mode=serve
for arg in "$@"; do
  case "$arg" in
    --check) mode=check ;;
    --bench) mode=bench ;;
    [0-9]*) count="$arg" ;;
    *) echo "usage: scripts/replicas.sh [N] [--check|--bench]" >&2; exit 64 ;;
  esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${GATEHOUSE_BIN:-$root/target/release/gatehouse}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-replicas.XXXXXX")"
pids=()
pg_dir=""

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
  if [ -n "$pg_dir" ]; then
    "$root/scripts/postgres.sh" stop "$pg_dir"
  elif [ -n "${schema:-}" ]; then
    psql "$GATEHOUSE_TEST_POSTGRES" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "replicas: $*" >&2; exit 1; }

for tool in nginx curl; do
  command -v "$tool" >/dev/null || {
    [ "$(id -u)" = 0 ] || fail "needs $tool (Debian: nginx-light, curl)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light curl >/dev/null
  }
done
[ -x "$bin" ] || (cd "$root" && cargo build --release -q -p gatehouse)

# ---- the shared database ------------------------------------------------------------
if [ -z "${GATEHOUSE_TEST_POSTGRES:-}" ]; then
  eval "$("$root/scripts/postgres.sh" start)"
  pg_dir="$GATEHOUSE_PG_DIR"
fi
schema="replicas_$$"
psql "$GATEHOUSE_TEST_POSTGRES" -qc "CREATE SCHEMA $schema" >/dev/null
store="$GATEHOUSE_TEST_POSTGRES?options=-c%20search_path%3D$schema"

# ---- one example, shared by every replica ------------------------------------------
example="$tmp/example"
"$bin" quickstart --dir "$example" --no-serve >/dev/null
config="$example/gatehouse.toml"
sed -i "0,/^audience = \"gatehouse\"/s||audience = \"gatehouse\"\nstore = \"$store\"|" "$config"
grep -q '^store = "postgres' "$config" || fail "could not point $config at PostgreSQL"
# The example's budget would pause a benchmark's workflow within a second.
sed -i -E '/^budget *=/ { s/calls *= *[0-9]+/calls = 1000000000/; s/bytes *= *[0-9]+/bytes = 1000000000000/ }' "$config"

data_ports=() control_ports=()
for i in $(seq "$count"); do
  data_ports+=($((18180 + 2 * i)))
  control_ports+=($((18181 + 2 * i)))
done

wait_for() {
  for _ in $(seq 200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ] && return 0
    sleep 0.05
  done
  fail "$1 never answered 200"
}

for i in $(seq "$count"); do
  data="127.0.0.1:${data_ports[$((i - 1))]}" control="127.0.0.1:${control_ports[$((i - 1))]}"
  if [ "$i" = 1 ]; then
    "$bin" quickstart --dir "$example" --data-listen "$data" --control-listen "$control" \
      >"$tmp/replica-$i.log" 2>&1 &
  else
    sed -e "s|^data_listen = .*|data_listen = \"$data\"|" \
      -e "s|^control_listen = .*|control_listen = \"$control\"|" "$config" >"$example/replica-$i.toml"
    "$bin" serve --config "$example/replica-$i.toml" >"$tmp/replica-$i.log" 2>&1 &
  fi
  pids+=("$!")
  wait_for "http://$control/readyz"
done

# ---- the load balancer ---------------------------------------------------------------
{
  echo "worker_processes 1;"
  echo "pid $tmp/nginx.pid;"
  echo "error_log $tmp/nginx-error.log warn;"
  echo "events { worker_connections 4096; }"
  echo "http {"
  echo "  access_log off;"
  echo "  client_body_temp_path $tmp/body; proxy_temp_path $tmp/proxy;"
  echo "  fastcgi_temp_path $tmp/fcgi; uwsgi_temp_path $tmp/uwsgi; scgi_temp_path $tmp/scgi;"
  for plane in data control; do
    echo "  upstream gatehouse_$plane {"
    if [ "$plane" = data ]; then ports=("${data_ports[@]}"); else ports=("${control_ports[@]}"); fi
    for port in "${ports[@]}"; do echo "    server 127.0.0.1:$port max_fails=1 fail_timeout=2s;"; done
    echo "    keepalive 64;"
    echo "  }"
  done
  echo "  server {"
  echo "    listen 127.0.0.1:8080;"
  echo "    location / { proxy_pass http://gatehouse_data; proxy_http_version 1.1;"
  echo "      proxy_set_header Connection \"\"; proxy_buffering off; }"
  echo "  }"
  echo "  server {"
  echo "    listen 127.0.0.1:8081;"
  echo "    location / { proxy_pass http://gatehouse_control; proxy_http_version 1.1;"
  echo "      proxy_set_header Connection \"\"; }"
  echo "  }"
  echo "}"
} >"$tmp/nginx.conf"
mkdir -p "$tmp/body" "$tmp/proxy"
nginx -p "$tmp" -e "$tmp/nginx-error.log" -c "$tmp/nginx.conf"
wait_for "http://127.0.0.1:8081/readyz"

assertion() {
  "$bin" agent assertion --ttl 300 --key "$example/keys/triage-bot.key" \
    --agent spiffe://acme/agent/triage-bot
}
token() {
  curl -s http://127.0.0.1:8080/v1/token -d "workflow=$1" -d task_class=triage \
    --data-urlencode "assertion=$(assertion)" | sed -nE 's/.*"access_token":"([^"]+)".*/\1/p'
}
operator="$(cat "$example/operator.token")"

echo "$count replicas on $GATEHOUSE_TEST_POSTGRES (schema $schema)"
echo "  data plane    http://127.0.0.1:8080  -> ${data_ports[*]}"
echo "  control plane http://127.0.0.1:8081  -> ${control_ports[*]}"

case "$mode" in
  serve)
    echo "Ctrl-C stops everything."
    wait "${pids[0]}"
    ;;
  check)
    credential="$(token wf-replicas)"
    [ -n "$credential" ] || fail "no credential through the load balancer"
    for _ in $(seq 30); do
      code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $credential" \
        -d '{"title":"via nginx"}' http://127.0.0.1:8080/tools/tickets/tickets)"
      [ "$code" = 201 ] || fail "a call through the load balancer answered $code"
    done
    sleep 0.3
    for port in "${control_ports[@]}"; do
      seen="$(curl -s -H "Authorization: Bearer $operator" \
        "http://127.0.0.1:$port/v1/events?workflow=wf-replicas&intent=ticket.create&limit=100" |
        grep -o '"intent":"ticket.create"' | wc -l)"
      [ "$seen" = 30 ] || fail "replica with control port $port sees $seen of 30 events"
    done
    curl -s -o /dev/null -H "Authorization: Bearer $operator" -H 'content-type: application/json' \
      -d '{"kind":"agent","subject":"spiffe://acme/agent/triage-bot","reason":"check"}' \
      "http://127.0.0.1:${control_ports[0]}/v1/revocations"
    sleep 0.2
    for port in "${data_ports[@]}"; do
      code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $credential" \
        -d '{"title":"after revocation"}' "http://127.0.0.1:$port/tools/tickets/tickets")"
      [ "$code" = 401 ] || fail "replica on $port answered $code after the agent was revoked"
    done
    echo "check: 30 calls through nginx, all $count replicas see all 30 events, a revocation on one refuses on all: ok"
    ;;
  bench)
    command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
    credential="$(token wf-bench)"
    wrk -t 1 -c "${CONNECTIONS:-64}" -d "${DURATION:-10}s" -H "Authorization: Bearer $credential" \
      http://127.0.0.1:8080/tools/tickets/tickets/0 | tee "$tmp/wrk.txt"
    rps="$(sed -nE 's/^Requests\/sec: +([0-9.]+)/\1/p' "$tmp/wrk.txt")"
    echo "bench: $count replicas through nginx: $rps req/s"
    ;;
esac
