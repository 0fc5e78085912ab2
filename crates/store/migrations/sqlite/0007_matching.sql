-- Person linkage in the node: the candidate index reads persons changed since its last look,
-- and missing-person reports matched against detained, hospitalised, deceased and returned
-- persons wait in a review queue. A decision is kept: a pair decided once is never proposed
-- again. No foreign keys to cases: retention removes a purged case's rows itself.
CREATE INDEX persons_updated ON persons(updated_at, id);

CREATE TABLE person_matches (
    id BLOB PRIMARY KEY,
    missing_case BLOB NOT NULL,
    missing_person BLOB NOT NULL,
    found_case BLOB NOT NULL,
    found_person BLOB NOT NULL,
    owner_state TEXT NOT NULL,
    probability REAL NOT NULL,
    band TEXT NOT NULL,
    explanation TEXT NOT NULL,
    status TEXT NOT NULL,
    found_at TEXT NOT NULL,
    decided_by BLOB REFERENCES users(id),
    decided_at TEXT,
    note TEXT,
    UNIQUE (missing_case, found_case)
);
CREATE INDEX person_matches_queue ON person_matches(owner_state, status, found_at, id);
CREATE INDEX person_matches_found ON person_matches(found_case);
