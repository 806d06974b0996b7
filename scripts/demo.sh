#!/usr/bin/env bash
# Runs the app with the local SMART sandbox (installs what is missing first):
#   EHR simulator  http://localhost:8090/ehr   (launch a patient into the app)
#   the app        http://localhost:8080/      (standalone: pick a provider)
#   its check page http://localhost:8080/check/ (the deployment check)
# The app is the release build, served from dist/ as a static host would.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh"

step "building the app (release) and the sandbox"
trunk build --release
cargo build --quiet -p smart-sandbox

step "starting: open http://localhost:8090/ehr and press Launch (Ctrl-C stops)"
exec target/debug/smart-sandbox --port 8090 --foreign-port 8091 \
  --app-dir dist --app-port 8080 \
  --app-url http://localhost:8080/ --app-url http://127.0.0.1:8080/
