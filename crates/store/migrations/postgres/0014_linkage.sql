-- Cross-border linkage service (issue 7).
-- On a state's node: the encodings it sent the hub (the case they stand for stays here) and the
-- candidates the hub sent back, with what the officers decided.
CREATE TABLE link_encodings (
    id UUID PRIMARY KEY,
    case_id UUID NOT NULL,
    side TEXT NOT NULL,
    hub_node TEXT NOT NULL,
    consent_id UUID,
    disclosure_id UUID,
    created_at TIMESTAMPTZ NOT NULL,
    created_by UUID,
    withdrawn_at TIMESTAMPTZ
);
CREATE INDEX link_encodings_case ON link_encodings(case_id);
CREATE INDEX link_encodings_consent ON link_encodings(consent_id);
CREATE TABLE link_candidates (
    id UUID PRIMARY KEY,
    encoding_id UUID NOT NULL,
    case_id UUID NOT NULL,
    side TEXT NOT NULL,
    other_state TEXT NOT NULL,
    other_encoding UUID NOT NULL,
    similarity DOUBLE PRECISION NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    decision TEXT,
    decided_by UUID,
    decided_at TIMESTAMPTZ,
    note TEXT
);
CREATE INDEX link_candidates_case ON link_candidates(case_id);
CREATE INDEX link_candidates_received ON link_candidates(received_at);
-- On the hub: the encodings the nodes submitted (no names: bits only) and the candidate pairs
-- found across states, with each side's decision.
CREATE TABLE hub_link_encodings (
    id UUID PRIMARY KEY,
    state TEXT NOT NULL,
    node TEXT NOT NULL,
    side TEXT NOT NULL,
    filter BYTEA NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    matched BOOLEAN NOT NULL
);
CREATE INDEX hub_link_encodings_side ON hub_link_encodings(side, state);
CREATE INDEX hub_link_encodings_unmatched ON hub_link_encodings(matched);
CREATE TABLE hub_link_candidates (
    id UUID PRIMARY KEY,
    missing_encoding UUID NOT NULL,
    missing_state TEXT NOT NULL,
    missing_node TEXT NOT NULL,
    found_encoding UUID NOT NULL,
    found_state TEXT NOT NULL,
    found_node TEXT NOT NULL,
    similarity DOUBLE PRECISION NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    missing_decision TEXT,
    missing_decided_at TIMESTAMPTZ,
    found_decision TEXT,
    found_decided_at TIMESTAMPTZ,
    UNIQUE (missing_encoding, found_encoding)
);
CREATE INDEX hub_link_candidates_found ON hub_link_candidates(found_encoding);
CREATE INDEX hub_link_candidates_created ON hub_link_candidates(created_at);
