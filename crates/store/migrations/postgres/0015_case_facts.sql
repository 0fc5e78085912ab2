-- Statistics (issue 7): one narrow row per case with the values it is counted by, written with
-- every change of the case or its person, so that a period's statistics read neither the case
-- nor its person (enlace_domain::stat_facts). Cases stored before this migration get theirs
-- when the node prepares its database.
CREATE TABLE case_facts (
    case_id UUID PRIMARY KEY,
    owner_state TEXT NOT NULL,
    opened_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ,
    status TEXT NOT NULL,
    post TEXT,
    host_state TEXT NOT NULL,
    category TEXT NOT NULL,
    subtype TEXT NOT NULL,
    vuln_mask BIGINT NOT NULL,
    nationality TEXT NOT NULL,
    sex TEXT NOT NULL,
    age_band TEXT NOT NULL,
    unaccompanied BOOLEAN NOT NULL,
    return_date DATE,
    return_route TEXT,
    art36_learned_at TIMESTAMPTZ,
    art36_contact_at TIMESTAMPTZ
);
CREATE INDEX case_facts_period ON case_facts(owner_state, opened_at);
