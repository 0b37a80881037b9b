import type { StubRoutes } from './fetchStub';
import { signedIn } from './signedIn';

/** The organization `org_1` ("Acme") as `GET /api/v1/orgs` lists it, with `overrides`. */
export function acme(overrides: Record<string, unknown> = {}) {
  return {
    id: 'org_1',
    slug: 'acme',
    name: 'Acme',
    created_at: '2026-11-24T14:00:00Z',
    updated_at: '2026-11-24T14:00:00Z',
    role: 'admin',
    ...overrides,
  };
}

/**
 * Routes that restore a signed-in session (`signedIn`) in one organization, `acme(org)`, whose
 * `GET /api/v1/orgs/org_1` grants `permissions`. Spread the page's own routes after it; remove the
 * cookie after the test (`clearSessionCookie`).
 */
export function inOrg(permissions: string[], org: Record<string, unknown> = {}): StubRoutes {
  const listed = acme(org);
  return {
    ...signedIn(),
    '/api/v1/orgs': { status: 200, body: { data: [listed], next_cursor: null } },
    '/api/v1/orgs/org_1': { status: 200, body: { ...listed, permissions } },
  };
}
