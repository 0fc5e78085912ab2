-- Search terms keyed by owning state first, so a state's search reads one index range and a
-- word's frequency within the state can be counted cheaply. Keep in step with
-- ../sqlite/0003_case_search.sql.
CREATE TABLE case_search (
    owner_state TEXT NOT NULL,
    term TEXT COLLATE "C" NOT NULL,
    case_id UUID NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    PRIMARY KEY (owner_state, term, case_id)
);
INSERT INTO case_search (owner_state, term, case_id)
    SELECT c.owner_state, t.term, t.case_id FROM case_terms t JOIN cases c ON c.id = t.case_id;
DROP TABLE case_terms;
CREATE INDEX case_search_case ON case_search(case_id, term);
