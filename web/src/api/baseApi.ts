import type {
  BaseQueryFn,
  FetchArgs,
  FetchBaseQueryError,
  FetchBaseQueryMeta,
} from '@reduxjs/toolkit/query';
import { createApi, fetchBaseQuery } from '@reduxjs/toolkit/query/react';
import { refreshSession, selectAccessToken, type SessionState } from './session';

const kHttpUnauthorized = 401;

/**
 * Plain requests to the server, with the session's access token when there is one. The server
 * and the console share an origin. The base URL is the page's origin rather than '' so that
 * requests are absolute URLs, which `Request` needs outside a browser (unit tests).
 */
const rawBaseQuery = fetchBaseQuery({
  baseUrl: window.location.origin,
  headers: { Accept: 'application/json, application/problem+json' },
  credentials: 'same-origin',
  prepareHeaders: (headers, { getState }) => {
    const token = selectAccessToken(getState() as { session: SessionState });
    if (token !== null && !headers.has('Authorization')) {
      headers.set('Authorization', `Bearer ${token}`);
    }
    return headers;
  },
});

/**
 * Retries a request once after a 401 when a session exists: the access token may have expired
 * while the tab slept, and the refresh cookie gets a fresh one. A second 401 stands.
 */
const baseQueryWithRefresh: BaseQueryFn<
  string | FetchArgs,
  unknown,
  FetchBaseQueryError,
  object,
  FetchBaseQueryMeta
> = async (args, api, extraOptions) => {
  const hadToken = selectAccessToken(api.getState() as { session: SessionState }) !== null;
  let result = await rawBaseQuery(args, api, extraOptions);
  if (result.error?.status === kHttpUnauthorized && hadToken) {
    if (await refreshSession({ dispatch: api.dispatch, getState: api.getState })) {
      result = await rawBaseQuery(args, api, extraOptions);
    }
  }
  return result;
};

/**
 * The one RTK Query API of the console. Every feature module adds its own endpoints to it with
 * `baseApi.injectEndpoints` in `features/<module>/<module>Api.ts`, so that modules share one cache,
 * one middleware and one set of tags (a change in one module can invalidate another's data), as
 * the RTK Query docs recommend for a single server.
 */
export const baseApi = createApi({
  reducerPath: 'api',
  baseQuery: baseQueryWithRefresh,
  tagTypes: [
    'Me',
    'Sessions',
    'Mailbox',
    'IpRules',
    'RateLimitOverrides',
    'Orgs',
    'Members',
    'Invitations',
    'Roles',
    'ApiKeys',
    'Mfa',
    'Audit',
    'OAuthClients',
  ],
  endpoints: () => ({}),
});
