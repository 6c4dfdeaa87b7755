#!/usr/bin/env bash
# Fuzz smoke test: runs every cargo-fuzz target in fuzz/ for a few seconds each, seeded
# from fuzz/seeds/<target>, and exits non-zero if any target crashes.
#
#   scripts/fuzz-smoke.sh [SECONDS] [TARGET...]     (default: 15 seconds, all targets)
#
# The pinned toolchain is stable; RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the unstable
# AddressSanitizer flags. FUZZ_SANITIZER=none fuzzes without a sanitizer (faster).
set -euo pipefail

seconds="${1:-15}"
shift || true
sanitizer="${FUZZ_SANITIZER:-address}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz (takes a few minutes)"
  cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

failed=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  seeds=()
  if [ -d "seeds/$target" ]; then
    seeds=("seeds/$target")
  fi
  echo "== fuzzing $target for ${seconds}s (sanitizer: $sanitizer)"
  if ! RUSTC_BOOTSTRAP=1 cargo fuzz run -s "$sanitizer" "$target" "corpus/$target" "${seeds[@]}" \
    -- -max_total_time="$seconds"; then
    echo "!! $target failed; the crashing input is in fuzz/artifacts/$target/" >&2
    failed+=("$target")
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzz smoke failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz smoke passed: ${targets[*]}"
