-- Federation (issue 6). The node's current hub-signed directory (one row).
CREATE TABLE fed_directory (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    serial INTEGER NOT NULL,
    signed TEXT NOT NULL,
    installed_at TEXT NOT NULL
);

-- Shares of a case between two states. On the offering node `case_id` is the local case and
-- `data` is NULL; on the receiving node `case_id` is NULL and `data` holds the fields received
-- (erased when the share is rejected or revoked). `seq_out`/`seq_in`: the last sequence number
-- this node sent / applied on the share.
CREATE TABLE fed_shares (
    id BLOB PRIMARY KEY,
    side TEXT NOT NULL,
    case_id BLOB REFERENCES cases(id) ON DELETE SET NULL,
    case_number TEXT NOT NULL,
    local_state TEXT NOT NULL,
    peer_node TEXT NOT NULL,
    peer_state TEXT NOT NULL,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    fields TEXT NOT NULL,
    purpose TEXT NOT NULL,
    legal_instrument TEXT NOT NULL,
    data TEXT,
    seq_out INTEGER NOT NULL,
    seq_in INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX fed_shares_case ON fed_shares(case_id) WHERE case_id IS NOT NULL;
CREATE INDEX fed_shares_state ON fed_shares(local_state, side, updated_at, id);

-- What happened to a share, on this node: each row one message sent or applied.
CREATE TABLE fed_share_events (
    id BLOB PRIMARY KEY,
    share_id BLOB NOT NULL REFERENCES fed_shares(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    direction TEXT NOT NULL,
    message_type TEXT NOT NULL,
    message_id BLOB NOT NULL,
    actor_name TEXT NOT NULL,
    note TEXT
);
CREATE INDEX fed_share_events_share ON fed_share_events(share_id, at, id);

-- Messages to send. The header is stored unsigned: the relay signs at each attempt, so
-- `created` is always the signing time. `state`: pending, delivered, dead (dead letters wait
-- for an administrator).
CREATE TABLE fed_outbox (
    id BLOB PRIMARY KEY,
    peer_node TEXT NOT NULL,
    message_type TEXT NOT NULL,
    share_id BLOB,
    seq INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    reply_to BLOB,
    payload TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at TEXT NOT NULL,
    last_error TEXT,
    delivered_at TEXT,
    receipt TEXT
);
-- The relay reads pending messages in queue order (a backlog of a long outage included).
CREATE INDEX fed_outbox_pending ON fed_outbox(queued_at, id) WHERE state = 'pending';
CREATE INDEX fed_outbox_share ON fed_outbox(share_id, seq) WHERE share_id IS NOT NULL;
CREATE INDEX fed_outbox_dead ON fed_outbox(queued_at, id) WHERE state = 'dead';

-- Messages received, by (sender, message id): the idempotency record. `receipt` is the signed
-- receipt answered, sent again for a duplicate. `applied` is false while the message waits
-- for an earlier one of its share (then `envelope` holds its verified header and payload).
CREATE TABLE fed_inbox (
    from_node TEXT NOT NULL,
    message_id BLOB NOT NULL,
    message_type TEXT NOT NULL,
    share_id BLOB,
    seq INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    applied INTEGER NOT NULL,
    envelope TEXT NOT NULL,
    receipt TEXT NOT NULL,
    PRIMARY KEY (from_node, message_id)
);
CREATE INDEX fed_inbox_waiting ON fed_inbox(share_id, seq) WHERE applied = 0;
