#!/bin/sh
# Fuzzes every parser of outside input in smart-core (fuzz/README.md):
# INPUTS per parser (default 10 000 000), most of them valid documents
# mutated, on the stable toolchain. Writes fuzz/results.md; fails if any
# input made a parser panic (each finding is listed with its input).
# Not part of scripts/test.sh: 10 million inputs per parser take about
# ten minutes on two cores.
#
#   scripts/fuzz.sh [INPUTS] [--only NAME] [--seed S]
set -eu
cd "$(dirname "$0")/.."
inputs=10000000
case "${1:-}" in [0-9]*) inputs=$1; shift ;; esac
cargo build --quiet --profile fuzz -p smart-fuzz
out=fuzz/results.md
commit=$(git rev-parse --short HEAD)
status=0
./target/fuzz/smart-fuzz --inputs "$inputs" --out "$out.body" "$@" || status=$?
{
  echo "# Fuzzing results"
  echo
  echo "\`scripts/fuzz.sh $inputs${*:+ $*}\` on $(date -u +%Y-%m-%d) at commit $commit" \
    "($(rustc --version | cut -d' ' -f1-2), $(nproc) cores)."
  echo
  cat "$out.body"
} > "$out"
rm -f "$out.body"
echo "wrote $out"
exit $status
