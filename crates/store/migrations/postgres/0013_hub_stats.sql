-- Regional hub (issue 7): the published statistics each node submitted, one row per state and
-- period (a later submission replaces the earlier one). `body` is the submission as checked.
CREATE TABLE hub_stats (
    state TEXT NOT NULL,
    period TEXT NOT NULL,
    period_from TIMESTAMPTZ NOT NULL,
    from_node TEXT NOT NULL,
    message_id UUID NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (state, period)
);
CREATE INDEX hub_stats_period ON hub_stats(period, state);
