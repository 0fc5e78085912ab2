-- Enlace core schema (PostgreSQL). Keep in step with ../sqlite/0001_core.sql.
CREATE TABLE posts (
    code TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    host_state TEXT NOT NULL,
    city TEXT NOT NULL,
    district TEXT NOT NULL
);

CREATE TABLE users (
    id UUID PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    state TEXT NOT NULL,
    post TEXT REFERENCES posts(code),
    display_name TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users(id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE persons (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    data TEXT NOT NULL,
    full_name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE case_counters (
    owner_state TEXT NOT NULL,
    year BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (owner_state, year)
);

CREATE TABLE cases (
    id UUID PRIMARY KEY,
    owner_state TEXT NOT NULL,
    year BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    version BIGINT NOT NULL,
    post TEXT REFERENCES posts(code),
    assisting_state TEXT,
    host_state TEXT NOT NULL,
    category TEXT NOT NULL,
    subtype TEXT NOT NULL,
    vuln_mask BIGINT NOT NULL,
    status TEXT NOT NULL,
    assigned_officer UUID REFERENCES users(id),
    protection TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    narrative TEXT,
    person_id UUID NOT NULL REFERENCES persons(id),
    person_name TEXT NOT NULL,
    parts TEXT NOT NULL,
    first_contact_due_at TIMESTAMPTZ,
    opened_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ,
    created_by UUID NOT NULL REFERENCES users(id),
    UNIQUE (owner_state, year, seq)
);
CREATE INDEX cases_opened ON cases(opened_at, id);
CREATE INDEX cases_updated ON cases(updated_at, id);
CREATE INDEX cases_state_opened ON cases(owner_state, opened_at, id);
CREATE INDEX cases_assisting ON cases(assisting_state, opened_at, id) WHERE assisting_state IS NOT NULL;
CREATE INDEX cases_post_opened ON cases(post, opened_at, id);
CREATE INDEX cases_person ON cases(person_id);
CREATE INDEX cases_officer ON cases(assigned_officer) WHERE assigned_officer IS NOT NULL;
CREATE INDEX cases_contact_due ON cases(first_contact_due_at) WHERE first_contact_due_at IS NOT NULL;

-- Search terms: folded words of the person's names, aliases and documents, and the case number.
CREATE TABLE case_terms (
    term TEXT COLLATE "C" NOT NULL,
    case_id UUID NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    PRIMARY KEY (term, case_id)
);
CREATE INDEX case_terms_case ON case_terms(case_id);

CREATE TABLE transitions (
    id UUID PRIMARY KEY,
    case_id UUID NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason TEXT,
    actor UUID NOT NULL REFERENCES users(id),
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX transitions_case ON transitions(case_id, at);

CREATE TABLE actions (
    id UUID PRIMARY KEY,
    case_id UUID NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    text TEXT NOT NULL,
    author UUID NOT NULL REFERENCES users(id),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX actions_case ON actions(case_id, occurred_at);

CREATE TABLE attachments (
    id UUID PRIMARY KEY,
    case_id UUID NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BYTEA NOT NULL,
    uploaded_by UUID NOT NULL REFERENCES users(id),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX attachments_case ON attachments(case_id);

CREATE TABLE consents (
    id UUID PRIMARY KEY,
    case_id UUID NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    data TEXT NOT NULL,
    given_at TIMESTAMPTZ NOT NULL,
    withdrawn_at TIMESTAMPTZ,
    recorded_by UUID NOT NULL REFERENCES users(id)
);
CREATE INDEX consents_case ON consents(case_id);

-- Append-only, hash-chained audit log. `pos` is the place in the node's chain, assigned from
-- audit_head in the writing transaction (no sequence object).
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pos BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, pos, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_events (
    pos BIGINT PRIMARY KEY,
    id UUID NOT NULL UNIQUE,
    at TIMESTAMPTZ NOT NULL,
    actor UUID,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id TEXT,
    detail TEXT NOT NULL,
    source TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_record ON audit_events(record_type, record_id);
