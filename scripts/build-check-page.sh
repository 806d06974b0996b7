#!/bin/sh
# Builds the deployment check page (check-page/) into the staged build:
# check/index.html, and beside the app's own files its content-hashed
# glue, wasm, start script and stylesheet (so the hosting rules that cache
# the app's hashed files cache these too). Trunk builds one page per run,
# so its post-build hook (scripts/trunk-post-build.sh) calls this, in the
# staging directory, after the app's index.html is final: the page takes
# that file's Content-Security-Policy <meta> tag.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
stage=$(pwd)
release=false
[ "${TRUNK_PROFILE:-}" = "release" ] && release=true
if $release; then profile=release; flags=--release; else profile=debug; flags=; fi
cargo build --quiet $flags -p smart-check-page --target wasm32-unknown-unknown --manifest-path "$root/Cargo.toml"
wasm="${CARGO_TARGET_DIR:-$root/target}/wasm32-unknown-unknown/$profile/smart-check-page.wasm"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name check "$wasm"
if $release; then
  # The wasm features rustc enables by default, as the app's index.html
  # lists them for its own wasm-opt run.
  features=$(grep -o -- '--enable-[a-z-]*' "$root/index.html" | sort -u | tr '\n' ' ')
  if [ -z "$features" ]; then
    echo "build-check-page: index.html's wasm-opt flags name no --enable-* feature" >&2
    exit 1
  fi
  # shellcheck disable=SC2086
  wasm-opt -Oz $features "$out/check_bg.wasm" -o "$out/check_bg.wasm"
  terser "$out/check.js" --module --compress --mangle --output "$out/check.min.js"
  mv "$out/check.min.js" "$out/check.js"
fi
hash() { sha256sum "$1" | cut -c1-16; }
wasm_name="check-$(hash "$out/check_bg.wasm")_bg.wasm"
glue_name="check-$(hash "$out/check.js").js"
cp "$out/check_bg.wasm" "$stage/$wasm_name"
cp "$out/check.js" "$stage/$glue_name"
# The glue would look for check_bg.wasm; the start script names the file.
printf 'import init from "./%s";\ninit({ module_or_path: new URL("%s", import.meta.url) });\n' \
  "$glue_name" "$wasm_name" > "$out/start.js"
start_name="check-start-$(hash "$out/start.js").js"
cp "$out/start.js" "$stage/$start_name"
css_name="check-$(hash "$root/check-page/check.css").css"
cp "$root/check-page/check.css" "$stage/$css_name"
policy=$(grep -o '<meta http-equiv="Content-Security-Policy" content="[^"]*" */>' "$stage/index.html" || true)
if [ -z "$policy" ]; then
  echo "build-check-page: the app's index.html has no Content-Security-Policy <meta> tag to copy" >&2
  exit 1
fi
base="${TRUNK_PUBLIC_URL:-/}"
mkdir -p "$stage/check"
# The values go through the environment, so no character in them is
# read as part of a pattern.
POLICY="$policy" BASE="$base" CSS="$css_name" START="$start_name" perl -0pe '
  s{<!-- CONTENT_SECURITY_POLICY:.*?-->}{$ENV{POLICY}}s;
  s{BASE_URL}{$ENV{BASE}}; s{CHECK_CSS}{$ENV{BASE}$ENV{CSS}}; s{CHECK_START}{$ENV{BASE}$ENV{START}};
' "$root/check-page/index.html" > "$stage/check/index.html"
if $release; then
  perl -0pi -e 's/[ \t]*<!--.*?-->\n?//gs' "$stage/check/index.html"
fi
if ! grep -q 'http-equiv="Content-Security-Policy"' "$stage/check/index.html"; then
  echo "build-check-page: check/index.html did not get the policy" >&2
  exit 1
fi
