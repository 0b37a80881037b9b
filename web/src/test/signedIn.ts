import type { StubRoutes } from './fetchStub';

/** An account as `/api/v1/me` answers it. */
export function account(overrides: Record<string, unknown> = {}) {
  return {
    id: 'usr_1',
    email: 'ada@example.com',
    name: 'Ada',
    email_verified: true,
    created_at: '2026-11-24T14:00:00Z',
    updated_at: '2026-11-24T14:00:00Z',
    is_operator: false,
    ...overrides,
  };
}

/**
 * Routes and a CSRF cookie that make the console restore a signed-in session on load, as after a
 * page reload with the refresh cookie. Remove the cookie after the test (`clearSessionCookie`).
 */
export function signedIn(me = account()): StubRoutes {
  document.cookie = 'nimbus_csrf=csrf_test';
  return {
    '/api/v1/auth/refresh': {
      status: 200,
      body: { access_token: 'tok_test', token_type: 'Bearer', expires_in: 900 },
    },
    '/api/v1/me': { status: 200, body: me },
    '/api/v1/orgs': { status: 200, body: { data: [], next_cursor: null } },
  };
}

export function clearSessionCookie() {
  document.cookie = 'nimbus_csrf=; max-age=0';
}

/** The requests `fetchMock` saw for a path, as `Request`s. */
export function requestsTo(fetchMock: { mock: { calls: unknown[][] } }, path: string): Request[] {
  return fetchMock.mock.calls
    .map(([input]) => input as Request)
    .filter((request) => new URL(request.url).pathname === path);
}
