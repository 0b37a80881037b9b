-- The audit log: an append-only, hash-chained record of security-relevant events. The code never
-- updates or deletes an entry; `nimbus audit verify` recomputes the chain (docs/audit.md gives the
-- exact encoding of `hash`).
CREATE TABLE audit_entries (
    seq BIGINT PRIMARY KEY,              -- 1, 2, 3, ... without gaps, in append order
    event_id TEXT NOT NULL UNIQUE,       -- the outbox event's id: redelivery appends nothing
    time_ms BIGINT NOT NULL,             -- when the event was emitted (Unix ms)
    action TEXT NOT NULL,                -- the event type, "nimbus.identity.login.failed"
    actor_id TEXT,                       -- who acted (user, key, client); NULL when unknown
    org_id TEXT,                         -- the organization, when the action is inside one
    target_id TEXT,                      -- what was acted on
    ip TEXT,
    details TEXT NOT NULL,               -- the event's other fields, a JSON object
    prev_hash TEXT NOT NULL,             -- the previous entry's hash; 64 zeros for seq 1
    hash TEXT NOT NULL                   -- SHA-256 hex over this entry's fields and prev_hash
);
CREATE INDEX audit_entries_org ON audit_entries (org_id, seq);
CREATE INDEX audit_entries_actor ON audit_entries (actor_id, seq);
CREATE INDEX audit_entries_target ON audit_entries (target_id, seq);

-- The end of the chain, one row. Every append updates it in the same transaction: on PostgreSQL
-- the row lock serializes appends across nodes, and verify compares it with the last entry so a
-- truncated tail is caught too.
CREATE TABLE audit_chain_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
INSERT INTO audit_chain_head (id, seq, hash, updated_at_ms)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0);
