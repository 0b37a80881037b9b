-- Per-key request budgets set at runtime through the admin API; they replace the configured
-- default for that key (user:<id>, key:<id>, client:<id>, org:<id> or ip:<address>).
CREATE TABLE gateway_rate_limit_overrides (
    key TEXT PRIMARY KEY,
    requests_per_minute BIGINT NOT NULL,
    burst BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
