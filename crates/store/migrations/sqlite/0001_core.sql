-- Enlace core schema (SQLite). Keep in step with ../postgres/0001_core.sql.
CREATE TABLE posts (
    code TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    host_state TEXT NOT NULL,
    city TEXT NOT NULL,
    district TEXT NOT NULL
);

CREATE TABLE users (
    id BLOB PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    state TEXT NOT NULL,
    post TEXT REFERENCES posts(code),
    display_name TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id BLOB NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE persons (
    id BLOB PRIMARY KEY,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    full_name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE case_counters (
    owner_state TEXT NOT NULL,
    year INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (owner_state, year)
);

CREATE TABLE cases (
    id BLOB PRIMARY KEY,
    owner_state TEXT NOT NULL,
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    version INTEGER NOT NULL,
    post TEXT REFERENCES posts(code),
    assisting_state TEXT,
    host_state TEXT NOT NULL,
    category TEXT NOT NULL,
    subtype TEXT NOT NULL,
    vuln_mask INTEGER NOT NULL,
    status TEXT NOT NULL,
    assigned_officer BLOB REFERENCES users(id),
    protection TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    narrative TEXT,
    person_id BLOB NOT NULL REFERENCES persons(id),
    person_name TEXT NOT NULL,
    parts TEXT NOT NULL,
    first_contact_due_at TEXT,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    closed_at TEXT,
    created_by BLOB NOT NULL REFERENCES users(id),
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
    term TEXT NOT NULL,
    case_id BLOB NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    PRIMARY KEY (term, case_id)
) WITHOUT ROWID;
CREATE INDEX case_terms_case ON case_terms(case_id);

CREATE TABLE transitions (
    id BLOB PRIMARY KEY,
    case_id BLOB NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason TEXT,
    actor BLOB NOT NULL REFERENCES users(id),
    at TEXT NOT NULL
);
CREATE INDEX transitions_case ON transitions(case_id, at);

CREATE TABLE actions (
    id BLOB PRIMARY KEY,
    case_id BLOB NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    text TEXT NOT NULL,
    author BLOB NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX actions_case ON actions(case_id, occurred_at);

CREATE TABLE attachments (
    id BLOB PRIMARY KEY,
    case_id BLOB NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL,
    uploaded_by BLOB NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX attachments_case ON attachments(case_id);

CREATE TABLE consents (
    id BLOB PRIMARY KEY,
    case_id BLOB NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    data TEXT NOT NULL,
    given_at TEXT NOT NULL,
    withdrawn_at TEXT,
    recorded_by BLOB NOT NULL REFERENCES users(id)
);
CREATE INDEX consents_case ON consents(case_id);

-- Append-only, hash-chained audit log. `pos` is the place in the node's chain, assigned from
-- audit_head in the writing transaction (no sequence object).
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pos INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, pos, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_events (
    pos INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    at TEXT NOT NULL,
    actor BLOB,
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
