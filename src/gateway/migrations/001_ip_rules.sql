-- IP and country allow/deny rules of the firewall. Platform-wide (not tenant-scoped): they
-- protect the whole node before any tenant is known.
CREATE TABLE gateway_ip_rules (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('cidr', 'country')),
    action TEXT NOT NULL CHECK (action IN ('allow', 'deny')),
    value TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at_ms BIGINT NOT NULL,
    UNIQUE (kind, action, value)
);
