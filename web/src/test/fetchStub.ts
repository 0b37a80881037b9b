import { vi } from 'vitest';

/** A canned answer: status and JSON body (problem answers get `application/problem+json`). */
export interface StubResponse {
  status: number;
  body: unknown;
}

/**
 * Answers for request paths, e.g. `{ '/healthz': { status: 200, body: { status: 'ok' } } }`. A
 * function answers from the request's URL (its query string: `?cursor=`, `?limit=`).
 */
export type StubRoutes = Record<string, StubResponse | ((url: URL) => StubResponse)>;

/**
 * Replaces `fetch` — the boundary between the console and the server — with one that answers
 * from `routes` by path. Everything above it (RTK Query, the API slice, the components) is real.
 * A path not in `routes` fails the way an unreachable server does. Returns the mock, to count calls.
 */
export function stubFetch(routes: StubRoutes) {
  const fetchMock = vi.fn((input: RequestInfo | URL) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    const route = routes[url.pathname];
    if (route === undefined) {
      return Promise.reject(new TypeError(`fetch failed: no stub for ${url.pathname}`));
    }
    const { status, body } = typeof route === 'function' ? route(url) : route;
    const contentType = status >= 400 ? 'application/problem+json' : 'application/json';
    return Promise.resolve(
      new Response(JSON.stringify(body), { status, headers: { 'Content-Type': contentType } }),
    );
  });
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}
