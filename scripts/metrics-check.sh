#!/usr/bin/env bash
# `promtool check metrics` (Debian's `prometheus` package) against a scrape of a running
# gateway: the quickstart example served by the debug binary on free loopback ports, a
# few decisions made (an allowed token exchange, refused calls), then `GET /metrics`
# with the example's operator token. Installs promtool when missing; safe to run again.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

command -v promtool >/dev/null || {
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
}
[ -x target/debug/gatehouse ] || cargo build --locked -p gatehouse
bin="$root/target/debug/gatehouse"

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
data="$(free_port)"
control="$(free_port)"
example="$work/example"
"$bin" quickstart --dir "$example" --no-serve >/dev/null
sed -i -e "s/127.0.0.1:8080/127.0.0.1:$data/" -e "s/127.0.0.1:8081/127.0.0.1:$control/" \
  "$example/gatehouse.toml"
# Two sinks, so their lag, delivery and error series are checked too: a file that
# delivers and a webhook nobody answers.
dead="$(free_port)"
cat >>"$example/gatehouse.toml" <<EOF

[[sinks]]
name = "archive"
kind = "file"
path = "$work/archive.jsonl"

[[sinks]]
name = "nobody"
kind = "webhook"
url = "http://127.0.0.1:$dead/events"
EOF
GATEHOUSE_LOG=warn "$bin" serve --config "$example/gatehouse.toml" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  curl -sf "http://127.0.0.1:$control/healthz" >/dev/null && break
  sleep 0.05
done

# Decisions of several kinds: an allowed exchange, an unauthenticated call, a segment
# the credential does not hold.
agent="spiffe://acme/agent/triage-bot"
assertion="$("$bin" agent assertion --key "$example/keys/triage-bot.key" --agent "$agent")"
token="$(curl -s "http://127.0.0.1:$data/v1/token" -d workflow=wf-metrics -d task_class=triage \
  --data-urlencode "assertion=$assertion" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')"
curl -s -o /dev/null "http://127.0.0.1:$data/tools/tickets/tickets"
curl -s -o /dev/null "http://127.0.0.1:$data/tools/deploy/deployments" -H "Authorization: Bearer $token"

operator="$(cat "$example/operator.token")"
curl -sf "http://127.0.0.1:$control/metrics" -H "Authorization: Bearer $operator" \
  >"$work/metrics.txt"
grep -q '^gatehouse_decisions_total{outcome="deny",refusal="segment-mismatch"} 1$' "$work/metrics.txt"
grep -q '^gatehouse_sink_lag_events{sink="nobody"} [1-9]' "$work/metrics.txt"
promtool check metrics <"$work/metrics.txt"
echo "metrics: promtool check passed ($(grep -vc '^#' "$work/metrics.txt") samples)"
