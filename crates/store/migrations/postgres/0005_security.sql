-- Accounts, sessions, throttling, integration tokens and the audit viewer's indexes (issue 3).
-- Keep in step with ../sqlite/0005_security.sql.
CREATE INDEX audit_actor ON audit_events(actor, pos);
CREATE INDEX audit_action ON audit_events(action, pos);
CREATE INDEX audit_at ON audit_events(at);

-- 'person' accounts sign in; 'integration' accounts only hold API tokens.
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person';
-- May read child (NNA) cases and sensitive fields (health, gender-based violence, trafficking).
ALTER TABLE users ADD COLUMN sensitive_access BOOLEAN NOT NULL DEFAULT FALSE;

-- Integration tokens carry a name, who made them, and when they were revoked.
ALTER TABLE api_tokens ADD COLUMN id UUID;
ALTER TABLE api_tokens ADD COLUMN name TEXT;
ALTER TABLE api_tokens ADD COLUMN created_by UUID;
ALTER TABLE api_tokens ADD COLUMN revoked_at TIMESTAMPTZ;

-- Server-side sessions for the web interface. Only the hash of the cookie's secret is kept.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    source TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Failed sign-ins per account ('user:…') and per source address ('addr:…').
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    locked_until TIMESTAMPTZ
);

-- Break-glass: a supervisor's reasoned, time-limited access to a restricted case (child,
-- sensitive facts). No foreign key to cases: the record outlives a purged case.
CREATE TABLE break_glass (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users(id),
    case_id UUID NOT NULL,
    case_number TEXT NOT NULL,
    owner_state TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX break_glass_user_case ON break_glass(user_id, case_id, expires_at);
CREATE INDEX break_glass_state ON break_glass(owner_state, at);

-- Every disclosure of a case's data: purpose, recipient, legal instrument and basis. Kept at
-- least five years, so no foreign key: the log outlives a purged case.
CREATE TABLE disclosures (
    id UUID PRIMARY KEY,
    case_id UUID NOT NULL,
    case_number TEXT NOT NULL,
    owner_state TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    actor UUID,
    actor_name TEXT NOT NULL,
    purpose TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_kind TEXT NOT NULL,
    legal_instrument TEXT NOT NULL,
    basis TEXT NOT NULL
);
CREATE INDEX disclosures_case ON disclosures(case_id, at);
CREATE INDEX disclosures_state ON disclosures(owner_state, at);

-- Attachment contents sealed with the node key (XChaCha20-Poly1305); older rows are plain.
ALTER TABLE attachments ADD COLUMN sealed BOOLEAN NOT NULL DEFAULT FALSE;

-- Retention: each state's rule per category; legal holds; anonymised cases.
CREATE TABLE retention_rules (
    state TEXT NOT NULL,
    category TEXT NOT NULL,
    years BIGINT NOT NULL,
    action TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by UUID,
    PRIMARY KEY (state, category)
);
ALTER TABLE cases ADD COLUMN legal_hold BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE cases ADD COLUMN anonymised_at TIMESTAMPTZ;
CREATE INDEX cases_closed ON cases(owner_state, category, closed_at) WHERE closed_at IS NOT NULL;

-- Two-factor authentication (TOTP). Secrets are sealed with the node key; recovery codes are
-- stored as hashes and used once; the last accepted time step refuses a replayed code.
ALTER TABLE users ADD COLUMN mfa_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
CREATE TABLE recovery_codes (
    user_id UUID NOT NULL REFERENCES users(id),
    code_hash TEXT NOT NULL,
    used_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);
-- A state's own policy (two-factor for everyone).
CREATE TABLE state_policies (
    state TEXT PRIMARY KEY,
    mfa_for_all BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMPTZ NOT NULL
);

-- OpenID Connect sign-ins under way: the state sent to the identity provider (hashed), with
-- the nonce and PKCE verifier to check its answer; used once, and only for 10 minutes.
CREATE TABLE oidc_pending (
    state_hash TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
