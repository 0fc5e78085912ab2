-- Cross-border linkage service (issue 7).
-- On a state's node: the encodings it sent the hub (the case they stand for stays here) and the
-- candidates the hub sent back, with what the officers decided.
CREATE TABLE link_encodings (
    id BLOB PRIMARY KEY,
    case_id BLOB NOT NULL,
    side TEXT NOT NULL,
    hub_node TEXT NOT NULL,
    consent_id BLOB,
    disclosure_id BLOB,
    created_at TEXT NOT NULL,
    created_by BLOB,
    withdrawn_at TEXT
);
CREATE INDEX link_encodings_case ON link_encodings(case_id);
CREATE INDEX link_encodings_consent ON link_encodings(consent_id);
CREATE TABLE link_candidates (
    id BLOB PRIMARY KEY,
    encoding_id BLOB NOT NULL,
    case_id BLOB NOT NULL,
    side TEXT NOT NULL,
    other_state TEXT NOT NULL,
    other_encoding BLOB NOT NULL,
    similarity REAL NOT NULL,
    received_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    decision TEXT,
    decided_by BLOB,
    decided_at TEXT,
    note TEXT
);
CREATE INDEX link_candidates_case ON link_candidates(case_id);
CREATE INDEX link_candidates_received ON link_candidates(received_at);
-- On the hub: the encodings the nodes submitted (no names: bits only) and the candidate pairs
-- found across states, with each side's decision.
CREATE TABLE hub_link_encodings (
    id BLOB PRIMARY KEY,
    state TEXT NOT NULL,
    node TEXT NOT NULL,
    side TEXT NOT NULL,
    filter BLOB NOT NULL,
    received_at TEXT NOT NULL,
    matched INTEGER NOT NULL
);
CREATE INDEX hub_link_encodings_side ON hub_link_encodings(side, state);
CREATE INDEX hub_link_encodings_unmatched ON hub_link_encodings(matched);
CREATE TABLE hub_link_candidates (
    id BLOB PRIMARY KEY,
    missing_encoding BLOB NOT NULL,
    missing_state TEXT NOT NULL,
    missing_node TEXT NOT NULL,
    found_encoding BLOB NOT NULL,
    found_state TEXT NOT NULL,
    found_node TEXT NOT NULL,
    similarity REAL NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    missing_decision TEXT,
    missing_decided_at TEXT,
    found_decision TEXT,
    found_decided_at TEXT,
    UNIQUE (missing_encoding, found_encoding)
);
CREATE INDEX hub_link_candidates_found ON hub_link_candidates(found_encoding);
CREATE INDEX hub_link_candidates_created ON hub_link_candidates(created_at);
