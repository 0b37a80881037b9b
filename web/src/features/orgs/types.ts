/** An organization as the caller sees it (`GET /api/v1/orgs`). */
export interface Org {
  id: string;
  slug: string;
  name: string;
  created_at: string;
  updated_at: string;
  /** Members must have two-step verification to use the organization. */
  require_mfa?: boolean;
  /** The caller's role in it. */
  role?: string;
  /** `GET /api/v1/orgs/{id}` only: what the caller may do in it. */
  permissions?: string[];
}

export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: string;
  role_name: string;
  joined_at: string;
}

export interface Invitation {
  id: string;
  email: string;
  role: string;
  invited_by: string;
  created_at: string;
  expires_at: string;
}

export interface InvitationPreview {
  org_id: string;
  org_name: string;
  role: string;
  email: string;
  expires_at: string;
}

export interface Role {
  id: string;
  name: string;
  description: string;
  permissions: string[];
  builtin: boolean;
}

export interface PermissionInfo {
  name: string;
  description: string;
}

export interface PermissionCatalog {
  permissions: PermissionInfo[];
  roles: Role[];
}

export interface ApiKey {
  id: string;
  name: string;
  permissions: string[];
  created_by: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

/** A new key: its secret (`key`) is in this answer only. */
export interface CreatedApiKey extends ApiKey {
  key: string;
}

export interface List<T> {
  data: T[];
  next_cursor?: string | null;
}
