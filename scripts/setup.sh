#!/usr/bin/env bash
# Installs what building and testing need, skipping what is already there
# at the right version. Registries only (crates.io, npm, Debian): nothing
# is downloaded from anywhere else.
#
#   scripts/setup.sh            toolchain for building the app
#   scripts/setup.sh --browser  also Chromium and chromedriver (tests)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRUNK_VERSION="0.21.14"
# The wasm-bindgen-cli must equal the wasm-bindgen crate pinned in Cargo.toml.
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$ROOT/Cargo.toml")"
# Debian's binaryen (108) breaks wasm-bindgen's output; npm's runs.
BINARYEN_VERSION="132.0.0"
# Minifies wasm-bindgen's JS glue in release builds (scripts/trunk-post-build.sh):
# Trunk's own minifier fails on it.
TERSER_VERSION="5.51.4"
# The accessibility checker the end-to-end tests inject into their pages.
AXE_VERSION="4.14.1"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

export PATH="$ROOT/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  log "installing trunk $TRUNK_VERSION (from source: several minutes, once)"
  cargo install --locked trunk --version "$TRUNK_VERSION"
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (from source: a few minutes, once)"
  # Without --locked: with it, a dependency fails to resolve (toolchain.md).
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

npm_has() { grep -q "\"version\": \"$2\"" "$ROOT/.tools/node_modules/$1/package.json" 2>/dev/null; }
if ! npm_has binaryen "$BINARYEN_VERSION" || ! npm_has terser "$TERSER_VERSION" || ! npm_has axe-core "$AXE_VERSION"; then
  log "installing wasm-opt (npm binaryen $BINARYEN_VERSION), terser $TERSER_VERSION and axe-core $AXE_VERSION into .tools/"
  mkdir -p "$ROOT/.tools"
  npm install --prefix "$ROOT/.tools" --no-audit --no-fund --loglevel=error \
    "binaryen@$BINARYEN_VERSION" "terser@$TERSER_VERSION" "axe-core@$AXE_VERSION"
fi

if [ "${1:-}" = "--browser" ]; then
  # nginx serves the release build in the deployment test, with the
  # configuration deploy/README.md documents.
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v nginx >/dev/null; then
    log "installing Chromium, chromedriver and nginx (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium chromium-driver nginx-light >/dev/null
  fi
fi

log "toolchain ready"
