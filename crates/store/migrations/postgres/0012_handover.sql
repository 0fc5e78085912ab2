-- Handover (issue 6). `handover`: the share's case ownership as this node sees it (owner node,
-- owner epoch, handover phase; JSON of `enlace_fed::handover::Ownership` with the user who
-- acted). NULL on shares made before this migration: owned by the offerer at epoch 0.
ALTER TABLE fed_shares ADD COLUMN handover TEXT;

-- Cases whose ownership moved by a handover. `owner_node` NULL: this node owns the case (it
-- received it by a handover); otherwise the node it was handed to, and the case is read-only
-- here. A case without a row is owned by this node at epoch 0.
CREATE TABLE fed_case_owner (
    case_id UUID PRIMARY KEY REFERENCES cases(id) ON DELETE CASCADE,
    owner_node TEXT,
    epoch BIGINT NOT NULL,
    share_id UUID NOT NULL,
    at TIMESTAMPTZ NOT NULL
);

