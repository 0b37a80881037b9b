-- Indexes for the sweep of expired rows (docs/identity.md, "Sweeping expired rows"): each batch
-- finds its dead rows through an index instead of scanning the table while it holds the write
-- lock. Invitations, grants and lockout counters stay small and are scanned.
CREATE INDEX identity_oauth_requests_expires ON identity_oauth_requests (expires_at_ms);
CREATE INDEX identity_oauth_codes_expires ON identity_oauth_codes (expires_at_ms);
CREATE INDEX identity_oauth_revoked_tokens_expires ON identity_oauth_revoked_tokens (expires_at_ms);
CREATE INDEX identity_links_expires ON identity_links (expires_at_ms);
CREATE INDEX identity_links_used ON identity_links (used_at_ms);
CREATE INDEX identity_sessions_expires ON identity_sessions (expires_at_ms);
CREATE INDEX identity_sessions_revoked ON identity_sessions (revoked_at_ms);
CREATE INDEX identity_mfa_challenges_expires ON identity_mfa_challenges (expires_at_ms);
