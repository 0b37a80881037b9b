-- Revocations every node must know about before an access token expires (docs/identity.md,
-- "Revocation"), and the indexes the sweep of ended sessions, grants and spent recovery codes
-- reads. The same SQL runs on SQLite and PostgreSQL.

-- One row per revoked session ("ses_..."), OAuth grant ("grt_...") or OAuth access token (its
-- `jti`), written in the transaction that revokes it. Each node reads the rows revoked since its
-- last look every `identity.revocation_poll_ms` and refuses access tokens whose `sid` or `jti` is
-- among them. No foreign key: the row must outlive an account or client deleted with its sessions
-- and grants. The sweep deletes a row once every access token it could stop has expired.
CREATE TABLE identity_token_revocations (
    id TEXT PRIMARY KEY,
    revoked_at_ms BIGINT NOT NULL
);
CREATE INDEX identity_token_revocations_revoked ON identity_token_revocations (revoked_at_ms);

CREATE INDEX identity_oauth_grants_expires ON identity_oauth_grants (expires_at_ms);
CREATE INDEX identity_oauth_grants_revoked ON identity_oauth_grants (revoked_at_ms);
CREATE INDEX identity_mfa_recovery_codes_used ON identity_mfa_recovery_codes (used_at_ms);
