-- The network's working groups (issue 8), their members and tasks (one JSON record per group,
-- versioned, as the hub publishes it).
CREATE TABLE net_groups (
    id UUID PRIMARY KEY,
    version BIGINT NOT NULL,
    data TEXT NOT NULL,
    tasks TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
