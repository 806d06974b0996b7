#!/bin/sh
# Trunk post-build hook (Trunk.toml). Trunk inlines the module script that
# starts the app into index.html; a Content-Security-Policy without
# 'unsafe-inline' refuses inline scripts, so this moves it into its own
# content-hashed file. It also writes 404.html, the fallback page static
# hosts without rewrites (GitHub Pages, an S3 error document) serve for
# deep links such as /callback. In release builds it minifies
# wasm-bindgen's JS glue (Trunk's own minifier fails on it) with terser
# (installed by scripts/setup.sh), updates its integrity hash, and drops
# index.html's comments (they are for its readers, not for every visit).
set -eu
cd "$TRUNK_STAGING_DIR"

sri() {
  node -e 'const d = require("crypto").createHash("sha384").update(require("fs").readFileSync(process.argv[1]));
    process.stdout.write("sha384-" + d.digest("base64"))' "$1"
}
if [ "${TRUNK_PROFILE:-}" = "release" ]; then
  if ! command -v terser >/dev/null || ! command -v node >/dev/null; then
    echo "trunk-post-build: terser and node are needed for a release build;" \
      "run scripts/setup.sh and put .tools/node_modules/.bin on PATH (scripts/env.sh does)" >&2
    exit 1
  fi
  for glue in *.js; do
    before=$(sri "$glue")
    terser "$glue" --module --compress --mangle --output "$glue.min"
    mv "$glue.min" "$glue"
    after=$(sri "$glue")
    sed -i "s|$before|$after|" index.html
    if ! grep -q "$after" index.html; then
      echo "trunk-post-build: index.html has no integrity hash for $glue to update" >&2
      exit 1
    fi
  done
  perl -0pi -e 's/[ \t]*<!--.*?-->\n?//gs' index.html
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
