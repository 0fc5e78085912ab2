#!/bin/sh
# Compares the case-list SQL as shipped (0218bd3) with the proposed rewrite on a SCRATCH COPY
# of a SQLite dataset (it changes statistics and indexes), with the server's bundled SQLite:
#   crates/bench/diagnosis/sqlite_list.sh /work/bench-data/sqlite-1m-diag/enlace.db [N]
# A = current SQL, no planner statistics (as shipped); B = current SQL after ANALYZE;
# ENLACE_BENCH names the enlace-bench binary (default: target/release/enlace-bench).
# C = scope as UNION ALL + (owner_state|assisting_state, updated_at, id) indexes + ANALYZE;
# D = C with the words as EXISTS, a rare word driving the query.
set -e
db=$1; n=${2:-20}; here=$(dirname "$0")
bench=${ENLACE_BENCH:-$(dirname "$here")/../../target/release/enlace-bench}
python3 "$here/sqlite_list.py" "$db" current "$n" > /tmp/wl-current.jsonl
echo "== A. current SQL, no statistics"
# (Setup and workload in separate processes: a connection keeps the statistics it loaded.)
"$bench" sqlite-plan --db "$db" --setup \
  "DROP TABLE IF EXISTS sqlite_stat1; DROP TABLE IF EXISTS sqlite_stat4; DROP INDEX IF EXISTS cases_state_updated; DROP INDEX IF EXISTS cases_assisting_updated;"
"$bench" sqlite-plan --db "$db" --workload /tmp/wl-current.jsonl
echo "== B. current SQL after ANALYZE"
"$bench" sqlite-plan --db "$db" --setup "ANALYZE;"
"$bench" sqlite-plan --db "$db" --workload /tmp/wl-current.jsonl
echo "== C. scope as UNION ALL branches + indexes + ANALYZE (search unchanged)"
"$bench" sqlite-plan --db "$db" --setup "CREATE INDEX IF NOT EXISTS cases_state_updated ON cases(owner_state, updated_at, id); CREATE INDEX IF NOT EXISTS cases_assisting_updated ON cases(assisting_state, updated_at, id) WHERE assisting_state IS NOT NULL; ANALYZE;"
python3 "$here/sqlite_list.py" "$db" union "$n" > /tmp/wl-union.jsonl
"$bench" sqlite-plan --db "$db" --workload /tmp/wl-union.jsonl
echo "== D. as C, and words checked by EXISTS in date order unless one word is rare (drives)"
python3 "$here/sqlite_list.py" "$db" proposed "$n" > /tmp/wl-proposed.jsonl
"$bench" sqlite-plan --db "$db" --workload /tmp/wl-proposed.jsonl
