-- Outgoing mail waiting to be sent (mail::Queue). A row is written in the transaction of the
-- change the mail reports and deleted once sent or given up. Recipient, subject and body are
-- sealed with the master key: the links they carry are secrets.
CREATE TABLE mail_queue (
    id TEXT PRIMARY KEY,                -- "mail_" + ULID
    sealed BLOB NOT NULL,               -- MasterKey::seal(JSON {to, subject, text}, "mail_queue:<id>")
    created_at_ms BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    last_error TEXT,
    claimed_by TEXT,                    -- the node sending it, until lease_until_ms
    lease_until_ms BIGINT
);
CREATE INDEX mail_queue_due ON mail_queue (next_attempt_ms);
