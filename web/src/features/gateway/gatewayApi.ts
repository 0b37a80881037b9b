import { baseApi } from '../../api/baseApi';

/** An IP or country rule (`/api/v1/admin/firewall/ip-rules`). */
export interface IpRule {
  id: string;
  kind: 'cidr' | 'country';
  action: 'allow' | 'deny';
  value: string;
  note: string;
  created_at: string;
}

export type NewIpRule = Omit<IpRule, 'id' | 'created_at'>;

/** A per-key rate-limit budget (`/api/v1/admin/rate-limits/overrides`). */
export interface RateLimitOverride {
  key: string;
  requests_per_minute: number;
  burst: number;
  updated_at: string;
}

/** The web application firewall's settings (`GET /api/v1/admin/firewall`). */
export interface FirewallStatus {
  enabled: boolean;
  /** `blocking`, `detection`, or `off` (then the other fields are absent). */
  mode: string;
  paranoia_level?: number;
  inbound_anomaly_threshold?: number;
  /** Routes with CRS rules switched off. */
  rule_exclusions?: number;
  /** Whether plain requests skip the engine; false until it is built after the start. */
  prefilter_active?: boolean;
}

/**
 * An override key in a path: `user:usr_1`, `ip:2001:db8::1`. A colon is allowed in a path segment
 * (RFC 3986 pchar), so it stays as the server documents the key; anything else is escaped.
 */
function overridePath(key: string): string {
  return `/api/v1/admin/rate-limits/overrides/${encodeURIComponent(key).replaceAll('%3A', ':')}`;
}

export const gatewayApi = baseApi.injectEndpoints({
  endpoints: (build) => ({
    getFirewallStatus: build.query<FirewallStatus, undefined>({
      query: () => '/api/v1/admin/firewall',
    }),
    listIpRules: build.query<{ data: IpRule[] }, undefined>({
      query: () => '/api/v1/admin/firewall/ip-rules',
      providesTags: ['IpRules'],
    }),
    addIpRule: build.mutation<IpRule, NewIpRule>({
      query: (body) => ({ url: '/api/v1/admin/firewall/ip-rules', method: 'POST', body }),
      invalidatesTags: ['IpRules'],
    }),
    deleteIpRule: build.mutation<undefined, string>({
      query: (id) => ({
        url: `/api/v1/admin/firewall/ip-rules/${encodeURIComponent(id)}`,
        method: 'DELETE',
      }),
      invalidatesTags: ['IpRules'],
    }),
    listOverrides: build.query<{ data: RateLimitOverride[] }, undefined>({
      query: () => '/api/v1/admin/rate-limits/overrides',
      providesTags: ['RateLimitOverrides'],
    }),
    putOverride: build.mutation<
      RateLimitOverride,
      { key: string; requests_per_minute: number; burst: number }
    >({
      query: ({ key, ...body }) => ({
        url: overridePath(key),
        method: 'PUT',
        body,
      }),
      invalidatesTags: ['RateLimitOverrides'],
    }),
    deleteOverride: build.mutation<undefined, string>({
      query: (key) => ({
        url: overridePath(key),
        method: 'DELETE',
      }),
      invalidatesTags: ['RateLimitOverrides'],
    }),
  }),
});

export const {
  useGetFirewallStatusQuery,
  useListIpRulesQuery,
  useAddIpRuleMutation,
  useDeleteIpRuleMutation,
  useListOverridesQuery,
  usePutOverrideMutation,
  useDeleteOverrideMutation,
} = gatewayApi;
