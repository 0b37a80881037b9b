-- Accounts, sessions (refresh-token families), single-use mail links and token signing keys.
-- Secrets are never stored in the clear: passwords as Argon2id hashes, refresh tokens and link
-- tokens as SHA-256 hex, signing keys sealed with the master key.
CREATE TABLE identity_users (
    id TEXT PRIMARY KEY,                 -- "usr_" + ULID
    email TEXT NOT NULL UNIQUE,          -- trimmed and case-folded
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,         -- libsodium crypto_pwhash_str (Argon2id, PHC string)
    email_verified_at_ms BIGINT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- A session is one refresh-token family: every refresh rotates the token within it, and reuse of
-- a rotated token revokes the session.
CREATE TABLE identity_sessions (
    id TEXT PRIMARY KEY,                 -- "ses_" + ULID
    user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    user_agent TEXT NOT NULL,
    ip TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    last_seen_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT,
    revoked_reason TEXT
);
CREATE INDEX identity_sessions_user ON identity_sessions (user_id, id);

CREATE TABLE identity_refresh_tokens (
    token_hash TEXT PRIMARY KEY,         -- SHA-256 hex of the token
    session_id TEXT NOT NULL REFERENCES identity_sessions (id) ON DELETE CASCADE,
    created_at_ms BIGINT NOT NULL,
    used_at_ms BIGINT                    -- set when rotated; a second use is reuse
);
CREATE INDEX identity_refresh_tokens_session ON identity_refresh_tokens (session_id);

-- Single-use links sent by mail: email verification and password reset.
CREATE TABLE identity_links (
    token_hash TEXT PRIMARY KEY,         -- SHA-256 hex of the token
    purpose TEXT NOT NULL,               -- 'verify_email' or 'reset_password'
    user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    email TEXT NOT NULL,                 -- the address the link was sent to
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    used_at_ms BIGINT
);
CREATE INDEX identity_links_user ON identity_links (user_id);

-- ES256 signing keys. `generation` is unique so nodes starting together agree on one key.
CREATE TABLE identity_signing_keys (
    id TEXT PRIMARY KEY,                 -- the JWT "kid": "jwk_" + ULID
    generation BIGINT NOT NULL UNIQUE,
    algorithm TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    private_key_sealed BYTEA NOT NULL,   -- MasterKey::seal(PEM, "identity_signing_key:<id>")
    created_at_ms BIGINT NOT NULL,
    retired_at_ms BIGINT
);
