#!/usr/bin/env bash
# Installs what the MCP tests run against, and nothing when it is already there:
#   - tests/mcp/node_modules from tests/mcp/package-lock.json (npm ci): the reference
#     MCP servers (server-everything, server-filesystem), the TypeScript SDK and the
#     conformance suite;
#   - a Python venv at target/mcp-venv with tests/mcp/requirements.txt (the Python SDK).
# Each step is redone only when its lock file's sha256 changed (a stamp file records it),
# so the fast path prints nothing. Needs node >= 20, python3 >= 3.10 and the registries.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dir=tests/mcp

need() { command -v "$1" >/dev/null || { echo "mcp-deps: the MCP tests need $2" >&2; exit 1; }; }
need node "node 20 or later"
need npm "npm (it comes with node)"
need python3 "python 3.10 or later"

# Prints the file's sha256.
sum_of() { sha256sum "$1" | cut -d' ' -f1; }

lock_sum="$(sum_of "$dir/package-lock.json")"
lock_stamp="$dir/node_modules/.lock-sha256"
if [ ! -d "$dir/node_modules" ] || [ "$(cat "$lock_stamp" 2>/dev/null)" != "$lock_sum" ]; then
  echo "mcp-deps: npm ci in $dir"
  # --loglevel=error: the conformance suite's unused GitHub client pulls a package that
  # declares node >= 22 and warns about it on node 20; nothing we run loads it.
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$lock_stamp"
fi

venv=target/mcp-venv
requirements_sum="$(sum_of "$dir/requirements.txt")"
requirements_stamp="$venv/.requirements-sha256"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$requirements_stamp" 2>/dev/null)" != "$requirements_sum" ]; then
  echo "mcp-deps: python venv in $venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$dir/requirements.txt"
  echo "$requirements_sum" >"$requirements_stamp"
fi
