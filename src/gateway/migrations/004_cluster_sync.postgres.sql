-- Keeps the nodes of one installation in step without a restart (gateway/cluster_sync.cpp).
-- A version per kind of runtime setting, bumped in the transaction that changes it; every node
-- polls these few rows and reloads what moved.
CREATE TABLE gateway_versions (
    name TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO gateway_versions (name, version) VALUES ('ip_rules', 0), ('rate_limit_overrides', 0);

-- Paths written on one node, so the others drop their cached responses for them. Short-lived:
-- rows older than a few minutes are deleted by whichever node prunes first.
CREATE TABLE gateway_cache_invalidations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    origin TEXT NOT NULL,
    path TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX gateway_cache_invalidations_time ON gateway_cache_invalidations (created_at_ms);
