#!/usr/bin/env bash
# The token exchange alone, repeated: bench.sh measures it once (3,000 exchanges, whose
# p99 is the 30 slowest, so two stalls of the core move it), this runs it REPS times on
# one gateway so that builds can be compared by the median of several runs, alternately.
#
#   scripts/token-bench.sh [BIN]     # BIN defaults to target/release/gatehouse
#
# Serves the quickstart example with BIN pinned to core 0 (the per-peer exchange limit
# lifted, as in bench.sh), mints the assertions, then runs wrk -c16 on core 1 REPS times,
# each until N exchanges are answered, and prints p50, p90 and p99 per run. Environment:
# N (3000), REPS (3), PORT_BASE (38080: data, +1 control, +10..+12 the example tools).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-$root/target/release/gatehouse}"
n="${N:-3000}"
reps="${REPS:-3}"
base="${PORT_BASE:-38080}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-token-bench.XXXXXX")"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "token-bench.sh: wrk is not installed" >&2; exit 1; }
"$bin" quickstart --dir "$tmp/q" --no-serve >/dev/null
config="$tmp/q/gatehouse.toml"
sed -i -E "s#127\.0\.0\.1:8090#127.0.0.1:$((base + 10))#; s#127\.0\.0\.1:8091#127.0.0.1:$((base + 11))#; s#127\.0\.0\.1:8092#127.0.0.1:$((base + 12))#" "$config"
printf '\n[gateway.limits]\ntoken_rate_per_peer = 1000000000\ntoken_burst_per_peer = 1000000000\n' >>"$config"
taskset -c 0 "$bin" quickstart --dir "$tmp/q" --data-listen "127.0.0.1:$base" \
  --control-listen "127.0.0.1:$((base + 1))" >"$tmp/gatehouse.log" 2>&1 &
pid="$!"
for _ in $(seq 150); do
  curl -s -o /dev/null "http://127.0.0.1:$((base + 1))/healthz" && break
  sleep 0.1
done

# Each exchange needs a fresh single-use assertion; wrk may send some beyond N.
per_run=$((n + 64))
for _ in $(seq $((per_run * reps))); do
  "$bin" agent assertion --ttl 300 --key "$tmp/q/keys/triage-bot.key" \
    --agent spiffe://acme/agent/triage-bot
done >"$tmp/assertions.txt"
for run in $(seq 0 $((reps - 1))); do
  EXCHANGES="$n" OFFSET=$((run * per_run)) PREFIX=wf-token- ASSERTIONS="$tmp/assertions.txt" \
    taskset -c 1 wrk -t1 -c16 -d10s --latency -s "$root/scripts/exchange.lua" \
    "http://127.0.0.1:$base/v1/token" >"$tmp/run.txt"
  awk '/requests in/ { n = $1 } /^ +50%/ { p50 = $2 } /^ +90%/ { p90 = $2 } /^ +99%/ { p99 = $2 }
    /Non-2xx|Socket errors/ { bad = bad " " $0 }
    END { print "exchanges " n "  p50 " p50 "  p90 " p90 "  p99 " p99 bad }' "$tmp/run.txt"
  sleep 1
done
