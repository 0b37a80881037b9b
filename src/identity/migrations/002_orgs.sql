-- Organizations, their members, custom roles, invitations and API keys, and the platform
-- operator flag. Invitation tokens and API key secrets are stored as SHA-256 hex only.
ALTER TABLE identity_users ADD COLUMN is_operator BIGINT NOT NULL DEFAULT 0;

CREATE TABLE identity_orgs (
    id TEXT PRIMARY KEY,                 -- "org_" + ULID
    slug TEXT NOT NULL UNIQUE,           -- lower-case letters, digits and inner hyphens
    name TEXT NOT NULL,
    created_by TEXT NOT NULL,            -- user id; kept when that account goes
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- Custom roles; the built-in ones (owner, admin, member, viewer) live in code.
CREATE TABLE identity_org_roles (
    id TEXT PRIMARY KEY,                 -- "rol_" + ULID
    org_id TEXT NOT NULL REFERENCES identity_orgs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL,           -- space-separated, each from the permission list
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE identity_org_members (
    org_id TEXT NOT NULL REFERENCES identity_orgs (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,                  -- a built-in role name or a custom role id ("rol_...")
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX identity_org_members_user ON identity_org_members (user_id);

CREATE TABLE identity_org_invitations (
    id TEXT PRIMARY KEY,                 -- "inv_" + ULID
    org_id TEXT NOT NULL REFERENCES identity_orgs (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,     -- SHA-256 hex of the mailed token
    invited_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    accepted_at_ms BIGINT,
    accepted_by TEXT,
    revoked_at_ms BIGINT
);
CREATE INDEX identity_org_invitations_org ON identity_org_invitations (org_id, id);

CREATE TABLE identity_api_keys (
    id TEXT PRIMARY KEY,                 -- "key_" + ULID; the ULID is the key's public part
    org_id TEXT NOT NULL REFERENCES identity_orgs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,           -- SHA-256 hex of the whole "nmb_..." key
    permissions TEXT NOT NULL,           -- space-separated
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT,
    last_used_at_ms BIGINT,
    revoked_at_ms BIGINT
);
CREATE INDEX identity_api_keys_org ON identity_api_keys (org_id, id);
