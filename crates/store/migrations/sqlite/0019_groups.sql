-- The network's working groups (issue 8), their members and tasks (one JSON record per group,
-- versioned, as the hub publishes it).
CREATE TABLE net_groups (
    id BLOB PRIMARY KEY,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    tasks TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
