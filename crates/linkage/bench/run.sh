#!/usr/bin/env bash
# The person-linkage benchmarks of BENCHMARKS.md ("Person linkage (issue 5)"). Outside CI.
#
#   crates/linkage/bench/run.sh [OUT_DIR] [SIZES...]      e.g. run.sh /tmp/linkage 10000 100000
#
# Needs: a release build of enlace and of the linkage examples in $CARGO_TARGET_DIR (default
# target/), and for the Splink side a virtual environment with splink, duckdb and pandas at
# $SPLINK_VENV (default /work/venv-splink; skipped when missing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=${1:-/tmp/linkage-bench}
shift || true
sizes=("${@:-10000 100000 1000000}")
target=${CARGO_TARGET_DIR:-target}
venv=${SPLINK_VENV:-/work/venv-splink}
mkdir -p "$out"
cargo build --release -p enlace -p enlace-linkage --examples --bin enlace
maps=(--map given_names=given_names --map surname_1=surnames --map surname_2=surnames
      --map birth_date=birth_date --map birth_year=birth_year --map sex=sex
      --map nationality=nationality --map birth_place=birth_place --map document=document)
for n in ${sizes[@]}; do
  csv="$out/records-$n.csv"
  [ -f "$csv" ] || "$target/release/examples/linkage_generate" "$n" 2026 > "$csv"
  echo "== enlace link, $n records"
  /usr/bin/time -v "$target/release/enlace" link "$csv" --id-column id "${maps[@]}" \
    --truth-column entity --output "$out/pairs-$n.csv" 2> "$out/enlace-$n.log" || true
  grep -E "records|compared|pass |written|at 0|time:|Maximum resident|Elapsed" "$out/enlace-$n.log"
  if [ -x "$venv/bin/python" ]; then
    echo "== Splink, $n records"
    /usr/bin/time -v "$venv/bin/python" crates/linkage/bench/splink_compare.py "$csv" \
      > "$out/splink-$n.log" 2>&1 || true
    grep -E "records|time:|at 0|Maximum resident|Elapsed" "$out/splink-$n.log"
  fi
done
echo "== lookup against 1,000,000"
"$target/release/examples/linkage_lookup" 1000000
