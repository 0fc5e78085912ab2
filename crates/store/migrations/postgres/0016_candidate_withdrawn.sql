-- The other state's encoding of a candidate left the service (the hub says so): the
-- candidate takes no decision any more.
ALTER TABLE link_candidates ADD COLUMN withdrawn_at TIMESTAMPTZ;
