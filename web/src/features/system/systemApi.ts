import { baseApi } from '../../api/baseApi';
import { isProblem, type Problem } from '../../api/problem';
import type { Liveness, ReadyBody, SystemInfo } from './types';

/** How often the System page asks again, in milliseconds. */
export const kSystemPollingIntervalMs = 10_000;

/**
 * Readiness as the console shows it. A 503 from `/readyz` is an answer, not a failure to get one:
 * the server is up and says what keeps it from being ready, so it is data here, not an error.
 */
export type Readiness =
  { ready: true; checks: Record<string, string> } | { ready: false; problem: Problem };

const kHttpServiceUnavailable = 503;

export const systemApi = baseApi.injectEndpoints({
  endpoints: (build) => ({
    getSystemInfo: build.query<SystemInfo, undefined>({
      query: () => '/api/v1/system/info',
    }),
    getLiveness: build.query<Liveness, undefined>({
      query: () => '/healthz',
    }),
    getReadiness: build.query<Readiness, undefined>({
      query: () => ({
        url: '/readyz',
        validateStatus: (response) => response.ok || response.status === kHttpServiceUnavailable,
      }),
      transformResponse: (body: unknown, meta): Readiness => {
        if (meta?.response?.status === kHttpServiceUnavailable) {
          return {
            ready: false,
            problem: isProblem(body)
              ? body
              : { title: 'Not ready', status: kHttpServiceUnavailable },
          };
        }
        const checks = (body as ReadyBody | undefined)?.checks ?? {};
        return { ready: true, checks };
      },
    }),
  }),
});

export const { useGetSystemInfoQuery, useGetLivenessQuery, useGetReadinessQuery } = systemApi;
