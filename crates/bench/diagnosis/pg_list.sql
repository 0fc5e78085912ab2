-- Plans of the case-list SQL of enlace-store (commit 0218bd3) on PostgreSQL, for the
-- benchmark's list shapes, as supervisor.mx (scope: owner or assisting state MX).
--   psql -X postgres://postgres@127.0.0.1:5432/enlace_bench_1m_run -f crates/bench/diagnosis/pg_list.sql
\timing on

-- q=hernandez&status=in_progress
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT c.id, c.owner_state, c.year, c.seq, c.post, c.host_state, c.category, c.subtype, c.vuln_mask, c.status,
       c.person_name, c.assigned_officer, c.opened_at, c.updated_at, c.first_contact_due_at
FROM cases c WHERE 1 = 1 AND (c.owner_state IN ('MX') OR c.assisting_state IN ('MX'))
  AND c.status IN ('in_progress')
  AND c.id IN (SELECT case_id FROM case_terms WHERE term >= 'hernandez' AND term < 'hernandez' || U&'\+10FFFF')
ORDER BY c.opened_at DESC, c.id DESC LIMIT 51;

-- q=maria lopez
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT c.id, c.opened_at FROM cases c WHERE 1 = 1 AND (c.owner_state IN ('MX') OR c.assisting_state IN ('MX'))
  AND c.id IN (SELECT case_id FROM case_terms WHERE term >= 'maria' AND term < 'maria' || U&'\+10FFFF')
  AND c.id IN (SELECT case_id FROM case_terms WHERE term >= 'lopez' AND term < 'lopez' || U&'\+10FFFF')
ORDER BY c.opened_at DESC, c.id DESC LIMIT 51;

-- category=migration&subtype=detention&sort=-updated_at
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT c.id, c.updated_at FROM cases c WHERE 1 = 1 AND (c.owner_state IN ('MX') OR c.assisting_state IN ('MX'))
  AND c.category = 'migration' AND c.subtype = 'detention'
ORDER BY c.updated_at DESC, c.id DESC LIMIT 51;

-- vulnerabilities=unaccompanied_child&q=jose
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT c.id, c.opened_at FROM cases c WHERE 1 = 1 AND (c.owner_state IN ('MX') OR c.assisting_state IN ('MX'))
  AND (c.vuln_mask & 1) = 1
  AND c.id IN (SELECT case_id FROM case_terms WHERE term >= 'jose' AND term < 'jose' || U&'\+10FFFF')
ORDER BY c.opened_at DESC, c.id DESC LIMIT 51;

-- overdue=true
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT c.id, c.opened_at FROM cases c WHERE 1 = 1 AND (c.owner_state IN ('MX') OR c.assisting_state IN ('MX'))
  AND c.first_contact_due_at IS NOT NULL AND c.first_contact_due_at < now()
ORDER BY c.opened_at DESC, c.id DESC LIMIT 51;

-- Proposed scope shape: one index-ordered branch per scope arm.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
(SELECT c.id, c.updated_at FROM cases c WHERE c.owner_state = 'MX'
   AND c.category = 'migration' AND c.subtype = 'detention' ORDER BY c.updated_at DESC, c.id DESC LIMIT 51)
UNION ALL
(SELECT c.id, c.updated_at FROM cases c WHERE c.assisting_state = 'MX' AND c.owner_state <> 'MX'
   AND c.category = 'migration' AND c.subtype = 'detention' ORDER BY c.updated_at DESC, c.id DESC LIMIT 51)
ORDER BY 2 DESC, 1 DESC LIMIT 51;
