import { baseApi } from '../../api/baseApi';

/** One entry of the hash-chained audit log. */
export interface AuditEntry {
  seq: number;
  id: string;
  time: string;
  action: string;
  actor_id: string | null;
  org_id: string | null;
  target_id: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

export interface AuditPage {
  data: AuditEntry[];
  next_cursor: string | null;
}

/** Which log to read: an organization's, the caller's own, or everything (operators). */
export type AuditScope = { kind: 'org'; orgId: string } | { kind: 'me' } | { kind: 'admin' };

export interface AuditQuery {
  scope: AuditScope;
  /** An event type prefix, e.g. `nimbus.identity.login.`. */
  action?: string;
  cursor?: string;
  limit?: number;
}

function scopePath(scope: AuditScope): string {
  switch (scope.kind) {
    case 'org':
      return `/api/v1/orgs/${encodeURIComponent(scope.orgId)}/audit`;
    case 'me':
      return '/api/v1/me/audit';
    case 'admin':
      return '/api/v1/admin/audit';
  }
}

export const auditApi = baseApi.injectEndpoints({
  endpoints: (build) => ({
    listAudit: build.query<AuditPage, AuditQuery>({
      query: ({ scope, action, cursor, limit }) => ({
        url: scopePath(scope),
        params: {
          ...(action === undefined || action === '' ? {} : { action }),
          ...(cursor === undefined ? {} : { cursor }),
          ...(limit === undefined ? {} : { limit }),
        },
      }),
      providesTags: ['Audit'],
    }),
  }),
});

export const { useListAuditQuery } = auditApi;
