-- The transactional outbox. Events are written in the emitting transaction; the dispatcher fans
-- each one out into a delivery row per subscriber and tracks every delivery here, so that delivery
-- resumes after a restart.
CREATE TABLE outbox_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- emit order; AUTOINCREMENT never reuses a pruned seq
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    subject TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    data TEXT NOT NULL,
    envelope TEXT NOT NULL,
    fanned_out INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_events_undispatched ON outbox_events (seq) WHERE fanned_out = 0;
CREATE INDEX outbox_events_time ON outbox_events (time_ms);

CREATE TABLE outbox_subscribers (
    name TEXT PRIMARY KEY,
    registered_at_ms BIGINT NOT NULL
);

CREATE TABLE outbox_deliveries (
    subscriber TEXT NOT NULL REFERENCES outbox_subscribers (name),
    event_seq BIGINT NOT NULL REFERENCES outbox_events (seq) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',  -- 'pending' or 'delivered'
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    last_error TEXT,
    claimed_by TEXT,
    lease_until_ms BIGINT,
    delivered_at_ms BIGINT,
    PRIMARY KEY (subscriber, event_seq)
);
-- Serves both "what is due" and "is an earlier event of this subject still pending".
CREATE INDEX outbox_deliveries_pending
    ON outbox_deliveries (subscriber, subject, event_seq) WHERE status = 'pending';
CREATE INDEX outbox_deliveries_event ON outbox_deliveries (event_seq);
