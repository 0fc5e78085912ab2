-- The network's directory (issue 8): each state's liaison officers, alternates and post
-- contact points. A removed entry stays as a tombstone so that its removal reaches every node.
CREATE TABLE net_contacts (
    id UUID PRIMARY KEY,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    removed BOOLEAN NOT NULL,
    data TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX net_contacts_state ON net_contacts(state);
