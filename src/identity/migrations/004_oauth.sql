-- The OAuth 2.0 / OpenID Connect provider: registered clients, pending authorization requests,
-- single-use codes, grants (one refresh-token family each), remembered consent and revoked access
-- tokens. Secrets are stored as SHA-256 hex only: client secrets, codes and refresh tokens are
-- 256 random bits, so a fast hash is enough (nothing to guess from it).
-- The same SQL runs on SQLite and PostgreSQL. org_id has no foreign key: organizations live in
-- their own migration.
CREATE TABLE identity_oauth_clients (
    id TEXT PRIMARY KEY,                     -- "cli_" + ULID, the OAuth client_id
    org_id TEXT NOT NULL,                    -- the organization that registered it
    name TEXT NOT NULL,
    client_type TEXT NOT NULL,               -- 'confidential' or 'public'
    secret_hash TEXT,                        -- SHA-256 hex of the secret; NULL for public clients
    redirect_uris TEXT NOT NULL,             -- JSON array of exact URIs
    post_logout_redirect_uris TEXT NOT NULL, -- JSON array of exact URIs
    grant_types TEXT NOT NULL,               -- space-separated
    scopes TEXT NOT NULL,                    -- space-separated, what the client may ask for
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX identity_oauth_clients_org ON identity_oauth_clients (org_id, id);

-- An authorization request waiting for the user's decision on the consent page.
CREATE TABLE identity_oauth_requests (
    id TEXT PRIMARY KEY,                     -- "oar_" + ULID, in the consent page URL
    client_id TEXT NOT NULL REFERENCES identity_oauth_clients (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    state TEXT NOT NULL,
    nonce TEXT NOT NULL,
    code_challenge TEXT NOT NULL,            -- S256
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    decided_at_ms BIGINT,                    -- set once; a request is decided at most once
    user_id TEXT
);

CREATE TABLE identity_oauth_codes (
    code_hash TEXT PRIMARY KEY,              -- SHA-256 hex of the code
    client_id TEXT NOT NULL REFERENCES identity_oauth_clients (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    auth_time_s BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    used_at_ms BIGINT                        -- a second use revokes the grant made from it
);

-- A grant: what one code exchange started; its refresh tokens rotate within it, and reuse of a
-- spent one revokes it (the same family scheme as identity_sessions).
CREATE TABLE identity_oauth_grants (
    id TEXT PRIMARY KEY,                     -- "grt_" + ULID; `sid` of its tokens
    client_id TEXT NOT NULL REFERENCES identity_oauth_clients (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    auth_time_s BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    last_used_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT,
    revoked_reason TEXT
);
CREATE INDEX identity_oauth_grants_code ON identity_oauth_grants (code_hash);
CREATE INDEX identity_oauth_grants_user ON identity_oauth_grants (user_id, client_id);

CREATE TABLE identity_oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY,             -- SHA-256 hex of the token
    grant_id TEXT NOT NULL REFERENCES identity_oauth_grants (id) ON DELETE CASCADE,
    created_at_ms BIGINT NOT NULL,
    used_at_ms BIGINT
);
CREATE INDEX identity_oauth_refresh_tokens_grant ON identity_oauth_refresh_tokens (grant_id);

-- Consent a user gave a client, so the consent screen is skipped for the same or fewer scopes.
CREATE TABLE identity_oauth_consents (
    user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES identity_oauth_clients (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,                     -- space-separated, sorted
    granted_at_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Access tokens revoked before they expire (RFC 7009), by `jti`; kept until `expires_at_ms`.
CREATE TABLE identity_oauth_revoked_tokens (
    token_id TEXT PRIMARY KEY,
    expires_at_ms BIGINT NOT NULL
);
