-- Mail kept instead of sent when no SMTP server is configured (the embedded default), so
-- operators can read verification and reset links. Not tenant data: operators only.
CREATE TABLE dev_mailbox (
    id TEXT PRIMARY KEY,  -- "msg_" + ULID: sorts by time
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX dev_mailbox_to ON dev_mailbox (to_address, id);
