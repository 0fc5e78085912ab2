-- How far the node's missing-person matching sweep has looked (persons changed before this
-- time have been matched). One row; absent until the first sweep, which starts from then.
CREATE TABLE match_sweep (
    id INTEGER PRIMARY KEY,
    swept_until TIMESTAMPTZ NOT NULL
);
