#!/bin/sh
# Trunk post-build hook (Trunk.toml). Trunk inlines the module script that
# starts the app into index.html; a Content-Security-Policy without
# 'unsafe-inline' refuses inline scripts, so this moves it into its own
# content-hashed file. It also writes 404.html, the fallback page static
# hosts without rewrites (GitHub Pages, an S3 error document) serve for
# deep links such as /callback. In release builds it minifies
# wasm-bindgen's JS glue and snippets (Trunk's own minifier fails on them)
# with terser (installed by scripts/setup.sh), updates their integrity
# hashes (the wasm's preload has none: below), gives the wasm's imports
# from the glue short names in both, and
# drops index.html's comments (they are for its readers, not for every
# visit). In every build the glue and snippets get names with
# their content's hash.
set -eu
scripts=$(cd "$(dirname "$0")" && pwd)
cd "$TRUNK_STAGING_DIR"

sri() {
  node -e 'const d = require("crypto").createHash("sha384").update(require("fs").readFileSync(process.argv[1]));
    process.stdout.write("sha384-" + d.digest("base64"))' "$1"
}
release=false
if [ "${TRUNK_PROFILE:-}" = "release" ]; then
  release=true
  if ! command -v terser >/dev/null || ! command -v node >/dev/null; then
    echo "trunk-post-build: terser and node are needed for a release build;" \
      "run scripts/setup.sh and put .tools/node_modules/.bin on PATH (scripts/env.sh does)" >&2
    exit 1
  fi
fi
# Minifies a JS file in release builds.
minify() {
  if $release; then
    terser "$1" --module --compress --mangle --output "$1.min"
    mv "$1.min" "$1"
  fi
}
# Updates a file's integrity hash in index.html (Trunk preloads the glue
# and the snippets with SRI) from what it was (`$2`).
integrity() {
  after=$(sri "$1")
  sed -i "s|$2|$after|" index.html
  if ! grep -q "$after" index.html; then
    echo "trunk-post-build: index.html has no integrity hash for $1 to update" >&2
    exit 1
  fi
}
# Gives a file a name with its content's hash and updates the references
# to it: the hosting rules cache JS for a year as immutable, so a file
# whose content changes must change its name (Trunk names the glue after
# the wasm, and wasm-bindgen names snippets after the crate, not the
# content, so neither would).
content_name() {
  hashed="${1%.js}-$(sha256sum "$1" | cut -c1-16).js"
  mv "$1" "$hashed"
  sed -i "s|$1|$hashed|g" index.html
  # In the glue, only where it is imported: the wasm names its imports
  # by the original path, and the glue's import object must keep it.
  if [ -n "$2" ]; then
    sed -i "s#\(from *[\"']\./\)$1\([\"']\)#\1$hashed\2#" "$2"
  fi
}
glue=$(ls smart-app-*.js)
glue_was=$(sri "$glue")
# wasm-bindgen's JS snippets (src/browser/calls.js), imported by the glue.
# wasm-bindgen leaves a renamed or removed snippet's old file in its output,
# and Trunk copies that too: what the glue does not import goes.
for snippet in $(find snippets -name '*.js' 2>/dev/null); do
  if ! grep -q "$snippet" "$glue"; then
    rm "$snippet"
    continue
  fi
  was=$(sri "$snippet")
  minify "$snippet"
  integrity "$snippet" "$was"
  content_name "$snippet" "$glue"
done
if $release; then
  # wasm-streams' stream-adapter classes (Leptos's server_fn links them;
  # this app builds no stream): their wasm exports are removed
  # (index.html's wasm-opt flags), so these classes call functions that
  # no longer exist. Unexported and without their finalizers, terser drops
  # them as unused.
  perl -0pi -e 's/^export (class IntoUnderlying\w+ )/$1/mg;
    s/^if \(Symbol\.dispose\) IntoUnderlying\w+\.prototype.*\n//mg;
    s/^const IntoUnderlying\w+Finalization = .*?;\n//msg' "$glue"
fi
minify "$glue"
if $release && grep -q "IntoUnderlying" "$glue"; then
  echo "trunk-post-build: the glue still refers to wasm-streams' classes after minifying" >&2
  exit 1
fi
if $release; then
  # Short names for the wasm's imports from the glue, in both files
  # (scripts/minify-wasm-imports.mjs says why). The wasm keeps Trunk's
  # name: a new build's different input gives it a different one.
  wasm=$(ls smart-app-*_bg.wasm)
  node "$scripts/minify-wasm-imports.mjs" "$wasm" "$glue" >/dev/null
fi
# The wasm's preload link without the integrity hash Trunk gives it:
# Chromium ignores integrity on a preload of this kind and says so in the
# console on every page load (crbug.com/981419), and the request that
# hands the wasm to WebAssembly (wasm-bindgen's fetch, which the preload
# serves) carries none, so no browser checks the wasm against it.
sed -i 's| integrity="[^"]*"\( as="fetch" type="application/wasm"\)|\1|' index.html
if grep -q 'integrity="[^"]*" as="fetch" type="application/wasm"' index.html; then
  echo "trunk-post-build: the wasm's preload link still has an integrity attribute" >&2
  exit 1
fi
integrity "$glue" "$glue_was"
content_name "$glue" ""
if $release; then
  perl -0pi -e 's/[ \t]*<!--.*?-->\n?//gs' index.html
  # The stylesheet without its comments and layout whitespace (its
  # integrity hash updated). Only whitespace next to braces, semicolons,
  # commas and '>' goes, which never changes what CSS means.
  for css in *.css; do
    was=$(sri "$css")
    perl -0pi -e 's{/\*.*?\*/}{}gs; s/\s+/ /g; s/\s*([{};,>])\s*/$1/g; s/^ //' "$css"
    integrity "$css" "$was"
  done
fi
awk '
  /<script type="module">/ { inside = 1; next }
  inside && /<\/script>/ { inside = 0; print "<script type=\"module\" src=\"START_SCRIPT\"></script>"; next }
  inside { print > "start.js"; next }
  { print }
' index.html > index.html.tmp
if [ ! -s start.js ]; then
  echo "trunk-post-build: no inline module script found in index.html" >&2
  exit 1
fi
hash=$(sha256sum start.js | cut -c1-16)
mv start.js "start-$hash.js"
sed "s|START_SCRIPT|${TRUNK_PUBLIC_URL:-/}start-$hash.js|" index.html.tmp > index.html
rm index.html.tmp
cp index.html 404.html
# The deployment check page, with this index.html's policy.
sh "$scripts/build-check-page.sh"
