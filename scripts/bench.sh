#!/usr/bin/env bash
# The performance benchmark (not part of the test run): bundle sizes, and
# launch-to-banner timings in headless Chromium against the sandbox, with
# 0 ms and 50 ms of injected latency. Writes bench/results.md.
#   scripts/bench.sh [--runs N]     (default 5 measured runs per case, each
#                                   beside the fhirclient peer, which it builds)
#   scripts/bench.sh --only CASE    only the cases whose name holds CASE
#                                   ("default, 0 ms, cold"), printed, not written
#   scripts/bench.sh --sizes        sizes only, nothing written; fails over budget
#   scripts/bench.sh --by-crate     what the wasm is made of: bench/crates.md
#   scripts/bench.sh --compare DIST CASE [ROUNDS [RUNS]]
#                                   the cases whose name holds CASE for this
#                                   build and for the one in DIST (another
#                                   `trunk build --release --dist DIST`), in
#                                   turn, ROUNDS rounds (default 3) of RUNS
#                                   launches (default 5), each beside the peer:
#                                   how a change is judged, as the machine's
#                                   speed drifts more between hours than the
#                                   change moves the ratios
#   scripts/bench.sh --trace MS [SHAPE]
#                                   one cold launch of the app and of the peer
#                                   at MS of latency (against the server shape
#                                   named, e.g. "sort ignored, pages of 20"),
#                                   every request, mark and paint of each page
#                                   on one clock (printed)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" --browser

if [ "${1:-}" = "--by-crate" ]; then
  if ! command -v twiggy >/dev/null; then
    step "installing twiggy (crates.io)"
    cargo install --locked twiggy --version 0.8.0
  fi
  step "release build with names kept"
  CARGO_PROFILE_RELEASE_STRIP=false cargo build --release --target wasm32-unknown-unknown --bin smart-app
  work="$ROOT/target/bench-by-crate"
  mkdir -p "$work"
  wasm-bindgen --target web --keep-debug --out-dir "$work" target/wasm32-unknown-unknown/release/smart-app.wasm
  # The same optimizer flags as index.html's data-wasm-opt-params, keeping names (-g).
  flags=$(sed -n 's/.*data-wasm-opt-params="\([^"]*\)".*/\1/p' index.html)
  # shellcheck disable=SC2086
  wasm-opt -Oz -g $flags "$work/smart-app_bg.wasm" -o "$work/optimized.wasm"
  twiggy top -n 1000000 -f csv "$work/optimized.wasm" > "$work/top.csv"
  cargo run -q -p bench --release -- --by-crate "$work/top.csv"
  exit 0
fi

step "release build of the app"
trunk build --release
if [ "${1:-}" = "--sizes" ]; then
  cargo run -q -p bench --release -- "$@"
  exit 0
fi
# The fhirclient peer, built as its README says (npm ci from its lockfile,
# client id and scope fixed at build time), outside the source tree.
peer_src="$ROOT/../shared/peer-fhirclient"
[ -d "$peer_src" ] || { echo "the fhirclient peer is not at $peer_src" >&2; exit 1; }
peer_work="$ROOT/target/peer-fhirclient"
step "building the fhirclient peer ($peer_src)"
rm -rf "$peer_work" && mkdir -p "$peer_work"
cp -r "$peer_src/." "$peer_work"
(cd "$peer_work" && npm ci --no-audit --no-fund --loglevel=error \
  && VITE_CLIENT_ID=smart-app-local VITE_SCOPE='launch openid fhirUser patient/*.rs offline_access' \
     PEER_DIST="$peer_work/dist" npx vite build --logLevel warn)
if [ "${1:-}" = "--compare" ]; then
  other="${2:?--compare needs the directory of the other build}"
  case_name="${3:?--compare needs a case, such as: default, 50 ms, cold}"
  rounds="${4:-3}" runs="${5:-5}"
  [ -f "$other/index.html" ] || { echo "no build in $other (trunk build --release --dist $other)" >&2; exit 2; }
  # Relative to the workspace, as E2E_DIST is read there.
  other=$(cd "$other" && pwd)
  for round in $(seq 1 "$rounds"); do
    # This build first in odd rounds, the other first in even ones.
    order=("$ROOT/dist" "$other")
    [ $((round % 2)) -eq 0 ] && order=("$other" "$ROOT/dist")
    for dist in "${order[@]}"; do
      name="this build"
      [ "$dist" = "$other" ] && name="$other"
      step "round $round of $rounds: $name"
      E2E_DIST="$dist" cargo run -q -p bench --release -- --peer "$peer_work/dist" --only "$case_name" --runs "$runs"
    done
  done
  exit 0
fi
if [ "${1:-}" = "--trace" ]; then
  cargo run -q -p bench --release -- --trace "${2:-50}" --peer "$peer_work/dist" "${@:3}"
  exit 0
fi
step "benchmark"
cargo run -q -p bench --release -- --peer "$peer_work/dist" "$@"
