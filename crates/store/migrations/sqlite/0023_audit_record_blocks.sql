-- The audit log's index by record is keyed first by the event's block of 4,096 positions
-- (pos / 4096), then by record. Keyed by record alone, every read event landed in a random
-- leaf of the index (one per case read), and each such leaf was written to disk at the commit
-- and again by the checkpoint: ~9 KB per read event. Keyed by block, a batch of read events
-- lands in the few leaves of the newest block. A query for one record probes one key per
-- block (store::audit, RECORD_BLOCK). Keep in step with ../postgres/0023_audit_record_blocks.sql.
DROP INDEX audit_record;
CREATE INDEX audit_record_block ON audit_events((pos / 4096), record_id);
