-- Each search term carries its case's post, so an officer's search counts and reads a word's
-- cases at their posts inside the search index, without reading every case of the word's state
-- range. Rebuilt in key order (one sorted pass) rather than updated row by row. Keep in step
-- with ../postgres/0022_case_search_post.sql.
CREATE TABLE case_search_next (
    owner_state TEXT NOT NULL,
    term TEXT NOT NULL,
    case_id BLOB NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    post TEXT,
    PRIMARY KEY (owner_state, term, case_id)
) WITHOUT ROWID;
INSERT INTO case_search_next (owner_state, term, case_id, post)
    SELECT s.owner_state, s.term, s.case_id, c.post FROM case_search s JOIN cases c ON c.id = s.case_id
    ORDER BY s.owner_state, s.term, s.case_id;
DROP TABLE case_search;
ALTER TABLE case_search_next RENAME TO case_search;
CREATE INDEX case_search_case ON case_search(case_id, term);
