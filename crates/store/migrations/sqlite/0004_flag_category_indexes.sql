-- List pages that filter on a vulnerability flag or a category. Keep in step with
-- ../postgres/0004_flag_category_indexes.sql.
--
-- A bit mask cannot be searched through an index, so a page such as
-- `vulnerabilities=unaccompanied_child&q=ana` read thousands of a state's cases in date order
-- to find 50 that carry the flag and the word. One partial index per flag holds only the cases
-- carrying it, in the same (state, opened) order; the list query names each flag as the
-- literal condition `(vuln_mask & <bit>) <> 0`, which is what lets both planners use it.
-- Bits are positions in `Vulnerability::ALL` (never reordered).
CREATE INDEX cases_vuln_unaccompanied_child ON cases(owner_state, opened_at, id) WHERE (vuln_mask & 1) <> 0;
CREATE INDEX cases_vuln_separated_child ON cases(owner_state, opened_at, id) WHERE (vuln_mask & 2) <> 0;
CREATE INDEX cases_vuln_trafficking_victim ON cases(owner_state, opened_at, id) WHERE (vuln_mask & 4) <> 0;
CREATE INDEX cases_vuln_crime_victim_on_route ON cases(owner_state, opened_at, id) WHERE (vuln_mask & 8) <> 0;
CREATE INDEX cases_vuln_asylum_seeker ON cases(owner_state, opened_at, id) WHERE (vuln_mask & 16) <> 0;
CREATE INDEX cases_vuln_extra_continental ON cases(owner_state, opened_at, id) WHERE (vuln_mask & 32) <> 0;
CREATE INDEX cases_vuln_pregnant ON cases(owner_state, opened_at, id) WHERE (vuln_mask & 64) <> 0;
CREATE INDEX cases_vuln_disability ON cases(owner_state, opened_at, id) WHERE (vuln_mask & 128) <> 0;
CREATE INDEX cases_vuln_serious_illness ON cases(owner_state, opened_at, id) WHERE (vuln_mask & 256) <> 0;
CREATE INDEX cases_vuln_gender_based_violence ON cases(owner_state, opened_at, id) WHERE (vuln_mask & 512) <> 0;
CREATE INDEX cases_vuln_stateless ON cases(owner_state, opened_at, id) WHERE (vuln_mask & 1024) <> 0;
CREATE INDEX cases_vuln_older_person ON cases(owner_state, opened_at, id) WHERE (vuln_mask & 2048) <> 0;
CREATE INDEX cases_vuln_indigenous_language ON cases(owner_state, opened_at, id) WHERE (vuln_mask & 4096) <> 0;
-- A category narrows a state's cases before the search word is checked.
CREATE INDEX cases_state_category ON cases(owner_state, category, opened_at, id);
-- Statistics for the new indexes, so the planner prefers them where they are narrower.
ANALYZE cases;
