-- How far each background job of the node has followed the persons' change feed (persons
-- changed up to (at, person_id), in that order, are done): `person_keys` (blocking keys) and
-- `match_sweep` (missing-person matching). Absent until a job first runs.
CREATE TABLE job_marks (
    name TEXT PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    person_id UUID
);
