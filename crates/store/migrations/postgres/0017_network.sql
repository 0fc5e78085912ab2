-- The network's workspace (issue 8): meetings, their agreements with follow-up notes, and
-- events. Nothing here is about a person. Dates are ISO text (YYYY-MM-DD); the records are
-- JSON, with the columns lists are ordered and filtered by beside them.
CREATE TABLE net_meetings (
    id UUID PRIMARY KEY,
    starts_on TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX net_meetings_starts ON net_meetings(starts_on);
CREATE TABLE net_agreements (
    id UUID PRIMARY KEY,
    meeting_id UUID NOT NULL REFERENCES net_meetings(id),
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    due_on TEXT,
    version BIGINT NOT NULL,
    data TEXT NOT NULL,
    notes TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (meeting_id, number)
);
CREATE INDEX net_agreements_status ON net_agreements(status, due_on);
CREATE TABLE net_events (
    id UUID PRIMARY KEY,
    starts_on TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX net_events_starts ON net_events(starts_on);
