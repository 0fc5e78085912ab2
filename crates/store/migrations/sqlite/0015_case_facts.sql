-- Statistics (issue 7): one narrow row per case with the values it is counted by, written with
-- every change of the case or its person, so that a period's statistics read neither the case
-- nor its person (enlace_domain::stat_facts). Clustered by state and opening time, so a
-- period's rows are read in sequence; `facts` packs the values in one column (one value per
-- row to decode: see ARCHITECTURE.md). Cases stored before this migration get theirs when the
-- node prepares its database.
CREATE TABLE case_facts (
    owner_state TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    case_id BLOB NOT NULL,
    closed_at TEXT,
    facts TEXT NOT NULL,
    PRIMARY KEY (owner_state, opened_at, case_id)
) WITHOUT ROWID;
CREATE INDEX case_facts_case ON case_facts(case_id);
