#!/usr/bin/env bash
# The performance benchmark (not part of the test run): bundle sizes, and
# launch-to-banner timings in headless Chromium against the sandbox, with
# 0 ms and 50 ms of injected latency. Writes bench/results.md.
#   scripts/bench.sh [--runs N]     (default 5 measured runs per case)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" --browser
step "release build of the app"
trunk build --release
step "benchmark"
cargo run -q -p bench --release -- "$@"
