-- Blocking keys of each person (from the linkage engine, the same in every process): the
-- candidates for a person being registered are the persons sharing one of its keys, found
-- through this table instead of an index held in memory. Keys of a purged or anonymised person
-- may stay behind; they lead to nobody (lookups read the persons and their live cases again).
CREATE TABLE person_keys (
    key BIGINT NOT NULL,
    person_id UUID NOT NULL,
    PRIMARY KEY (key, person_id)
);
