-- The proposed list SQL on PostgreSQL, on a SCRATCH COPY of the dataset prepared with:
--   ALTER TABLE cases ADD COLUMN search tsvector;
--   UPDATE cases c SET search = t.v FROM (SELECT case_id, array_to_tsvector(array_agg(term)) v
--     FROM case_terms GROUP BY case_id) t WHERE t.case_id = c.id;
--   CREATE INDEX cases_search ON cases USING gin (search);
--   CREATE INDEX cases_state_updated ON cases(owner_state, updated_at, id);
--   VACUUM ANALYZE cases;
-- Scope as UNION ALL of one index-ordered branch per arm; words as a prefix tsquery on a GIN
-- index (posting lists intersect in the index). Each statement runs twice; read the second.
-- psql -X postgres://postgres@127.0.0.1:5432/enlace_bench_1m_diag -f pg_list_proposed.sql | grep -E '^--|Execution'
\set cols 'c.id, c.owner_state, c.year, c.seq, c.post, c.host_state, c.category, c.subtype, c.vuln_mask, c.status, c.person_name, c.assigned_officer, c.opened_at, c.updated_at, c.first_contact_due_at'

\echo '-- q=hernandez&status=in_progress'
PREPARE a(text, text) AS (SELECT :cols FROM cases c WHERE c.owner_state = $1 AND c.status = 'in_progress' AND c.search @@ to_tsquery('simple', $2) ORDER BY c.opened_at DESC, c.id DESC LIMIT 51)
 UNION ALL (SELECT :cols FROM cases c WHERE c.assisting_state = $1 AND c.owner_state <> $1 AND c.status = 'in_progress' AND c.search @@ to_tsquery('simple', $2) ORDER BY c.opened_at DESC, c.id DESC LIMIT 51)
 ORDER BY opened_at DESC, id DESC LIMIT 51;
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE a('MX', 'hernandez:*');
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE a('MX', 'hernandez:*');
\echo '-- q=maria lopez'
PREPARE b(text, text) AS (SELECT :cols FROM cases c WHERE c.owner_state = $1 AND c.search @@ to_tsquery('simple', $2) ORDER BY c.opened_at DESC, c.id DESC LIMIT 51)
 UNION ALL (SELECT :cols FROM cases c WHERE c.assisting_state = $1 AND c.owner_state <> $1 AND c.search @@ to_tsquery('simple', $2) ORDER BY c.opened_at DESC, c.id DESC LIMIT 51)
 ORDER BY opened_at DESC, id DESC LIMIT 51;
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE b('MX', 'maria:* & lopez:*');
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE b('MX', 'maria:* & lopez:*');
\echo '-- q=garcia hernandez'
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE b('GT', 'garcia:* & hernandez:*');
\echo '-- q=wilmer martinez'
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE b('HN', 'wilmer:* & martinez:*');
\echo '-- q=jose (one common word)'
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE b('MX', 'jose:*');
\echo '-- vulnerabilities=unaccompanied_child&q=maria'
PREPARE c(text, text) AS (SELECT :cols FROM cases c WHERE c.owner_state = $1 AND (c.vuln_mask & 1) = 1 AND c.search @@ to_tsquery('simple', $2) ORDER BY c.opened_at DESC, c.id DESC LIMIT 51)
 UNION ALL (SELECT :cols FROM cases c WHERE c.assisting_state = $1 AND c.owner_state <> $1 AND (c.vuln_mask & 1) = 1 AND c.search @@ to_tsquery('simple', $2) ORDER BY c.opened_at DESC, c.id DESC LIMIT 51)
 ORDER BY opened_at DESC, id DESC LIMIT 51;
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE c('MX', 'maria:*');
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE c('MX', 'maria:*');
\echo '-- category=migration&subtype=detention&sort=-updated_at'
PREPARE d(text) AS (SELECT :cols FROM cases c WHERE c.owner_state = $1 AND c.category = 'migration' AND c.subtype = 'detention' ORDER BY c.updated_at DESC, c.id DESC LIMIT 51)
 UNION ALL (SELECT :cols FROM cases c WHERE c.assisting_state = $1 AND c.owner_state <> $1 AND c.category = 'migration' AND c.subtype = 'detention' ORDER BY c.updated_at DESC, c.id DESC LIMIT 51)
 ORDER BY updated_at DESC, id DESC LIMIT 51;
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE d('MX');
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE d('MX');
\echo '-- overdue=true'
PREPARE e(text) AS (SELECT :cols FROM cases c WHERE c.owner_state = $1 AND c.first_contact_due_at < now() ORDER BY c.opened_at DESC, c.id DESC LIMIT 51)
 UNION ALL (SELECT :cols FROM cases c WHERE c.assisting_state = $1 AND c.owner_state <> $1 AND c.first_contact_due_at < now() ORDER BY c.opened_at DESC, c.id DESC LIMIT 51)
 ORDER BY opened_at DESC, id DESC LIMIT 51;
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE e('MX');
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE e('MX');
