#!/usr/bin/env bash
# The OTLP receiver the sink tests send to (tests/otlp/receiver.py) decodes with the
# official `opentelemetry-proto` package from PyPI: a venv at target/otlp-venv with
# tests/otlp/requirements.txt, made again only when the requirements change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv=target/otlp-venv
requirements_sum="$(sha256sum tests/otlp/requirements.txt | cut -d' ' -f1)"
requirements_stamp="$venv/.requirements-sha256"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$requirements_stamp" 2>/dev/null)" != "$requirements_sum" ]; then
  echo "otlp-deps: python venv in $venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/otlp/requirements.txt
  echo "$requirements_sum" >"$requirements_stamp"
fi
