#!/bin/sh
# Samples what the backends of one PostgreSQL database wait on, every 50 ms for N seconds
# (default 10), and prints the counts. Diagnosis aid for the create run, e.g.
#   crates/bench/diagnosis/pg_waits.sh postgres://postgres@127.0.0.1:5432/postgres enlace_bench_1m_run 10
url=$1; db=$2; secs=${3:-10}
end=$(( $(date +%s) + secs ))
while [ "$(date +%s)" -lt "$end" ]; do
  psql -X -q -t -A -d "$url" -c "SELECT state || ' ' || coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, '-') || ' ' || left(regexp_replace(query, '\s+', ' ', 'g'), 60) FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()"
  sleep 0.05
done | sort | uniq -c | sort -rn | head -25
