#!/usr/bin/env bash
# Runs every test. On a fresh machine it first installs what is missing
# (scripts/setup.sh --browser); when all is installed that takes a second.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
started=$(date +%s)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Every test command's output goes to the terminal and to $log, for the total.
run() { "$@" 2>&1 | tee -a "$log"; }
# Each section's wall time, printed at the end (README records them).
times=""
section_started=$started
section=""
section() {
    local now; now=$(date +%s)
    [ -n "$section" ] && times+=$(printf '%5d s  %s' $((now - section_started)) "$section")$'\n'
    section="$*"; section_started=$now
    [ -n "$section" ] && step "$section"
    return 0
}

section "setup: install what is missing"
"$ROOT/scripts/setup.sh" --browser

section "protocol core: unit and property tests (native)"
# --nocapture shows how many inputs each property test ran.
run cargo test -p smart-core --lib --tests -- --nocapture

section "app: the session's rules natively (fake transport and clock)"
# Refresh single flight, 401 retry, 429/503, paging and the foreign-next
# rule, with virtual time: the 25 s of a session in microseconds.
run cargo test -p smart-app --lib

section "protocol core and app in a real browser (wasm-bindgen-test, headless Chromium)"
# In the release profile the app ships with (size-optimised, LTO, abort on
# panic); it also builds in a third of the time the debug profile takes.
run cargo test -p smart-core --target wasm32-unknown-unknown --release --test in_browser
run cargo test -p smart-app --target wasm32-unknown-unknown --release --lib

section "sandbox: protocol rules over HTTP (no browser)"
run cargo test -p smart-sandbox -p smart-test-support

section "deployment rules and check, benchmark and fuzzing tools (smart-deploy, the check page, bench, smart-fuzz)"
run cargo test -p smart-deploy -p bench -p smart-fuzz -p smart-check-page

section "release build of the app (Trunk, wasm-opt) and its size budget"
trunk build --release
# Fails when the first visit is over issue #7's 150 KB brotli budget.
run cargo run -q -p bench -- --sizes
# The deployment test serves a build for a sub-path, as a CDN often does.
trunk build --release --public-url /smart/ --dist target/dist-subpath

section "end to end: the release build in headless Chromium"
# Two browsers at a time suit a 2-core machine.
run cargo test -p e2e --tests -- --test-threads=2

section ""
step "all tests passed in $(( $(date +%s) - started )) s"
printf '%s' "$times"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
