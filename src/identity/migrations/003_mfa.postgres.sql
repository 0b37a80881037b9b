-- Brute-force counters, TOTP second factor with recovery codes and login challenges, and the
-- activation time that lets signing keys be published before they sign. Secrets are never stored
-- in the clear: TOTP secrets sealed with the master key, recovery codes and challenge tokens as
-- SHA-256 hex.

-- Failed sign-ins per account ("account:<sha256 of the email>", so unknown emails count alike)
-- and per client address ("ip:<address>"). Shared by every node; a row is one small upsert.
CREATE TABLE identity_login_failures (
    subject TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,            -- since the window began or the last lock
    last_failure_at_ms BIGINT NOT NULL,
    locked_until_ms BIGINT               -- set when failures reached the threshold
);

-- One TOTP authenticator per user: pending until a code confirms it.
CREATE TABLE identity_mfa_totp (
    user_id TEXT PRIMARY KEY REFERENCES identity_users (id) ON DELETE CASCADE,
    secret_sealed BYTEA NOT NULL,        -- MasterKey::seal(secret, "identity_totp:<user_id>")
    created_at_ms BIGINT NOT NULL,
    confirmed_at_ms BIGINT,              -- NULL while enrolment is pending
    last_used_step BIGINT NOT NULL       -- newest accepted time step: a code works once
);

-- Single-use recovery codes, replaced as a set when regenerated.
CREATE TABLE identity_mfa_recovery_codes (
    user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,             -- SHA-256 hex of the normalized code
    created_at_ms BIGINT NOT NULL,
    used_at_ms BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- The second step of a login: a short-lived token bound to the user who gave the password.
CREATE TABLE identity_mfa_challenges (
    token_hash TEXT PRIMARY KEY,         -- SHA-256 hex of the mfa_token
    user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    used_at_ms BIGINT
);
CREATE INDEX identity_mfa_challenges_user ON identity_mfa_challenges (user_id);

-- A rotated key is published (JWKS) from created_at_ms and signs from activates_at_ms; NULL (keys
-- made before rotation existed) means it signed from creation.
ALTER TABLE identity_signing_keys ADD COLUMN activates_at_ms BIGINT;

-- The organization policy "members must use a second factor" (docs/identity.md).
ALTER TABLE identity_orgs ADD COLUMN require_mfa BIGINT NOT NULL DEFAULT 0;
