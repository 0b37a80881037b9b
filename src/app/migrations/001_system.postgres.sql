-- Node-wide state: the master-key check value and similar single facts about this installation.
CREATE TABLE system_state (
    key TEXT PRIMARY KEY,
    value BYTEA NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
