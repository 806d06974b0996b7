#!/usr/bin/env bash
# Builds the app and serves it on http://localhost:8080 (installs what is
# missing first). Until the local sandbox lands, the app runs alone: the
# provider picker and the launch checks work, sign-in needs a SMART server.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh"

step "serving the app at http://localhost:8080 (Ctrl-C to stop)"
exec trunk serve --release --port 8080
