import { createApi, fetchBaseQuery } from '@reduxjs/toolkit/query/react';

/**
 * The one RTK Query API of the console. Every feature module adds its own endpoints to it with
 * `baseApi.injectEndpoints` in `features/<module>/<module>Api.ts`, so that modules share one cache,
 * one middleware and one set of tags (a change in one module can invalidate another's data), as
 * the RTK Query docs recommend for a single server.
 *
 * The server and the console share an origin. The base URL is the page's origin rather than '' so
 * that requests are absolute URLs, which `Request` needs outside a browser (unit tests).
 */
export const baseApi = createApi({
  reducerPath: 'api',
  baseQuery: fetchBaseQuery({
    baseUrl: window.location.origin,
    headers: { Accept: 'application/json, application/problem+json' },
  }),
  endpoints: () => ({}),
});
