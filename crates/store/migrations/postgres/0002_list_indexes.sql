-- Indexes for list pages: the search check by case (case_id, term), and per-state order by
-- last update. Keep in step with ../sqlite/0002_list_indexes.sql.
CREATE INDEX case_terms_case_term ON case_terms(case_id, term);
DROP INDEX case_terms_case;
CREATE INDEX cases_state_updated ON cases(owner_state, updated_at, id);
CREATE INDEX cases_post_updated ON cases(post, updated_at, id);
