import { baseApi } from '../../api/baseApi';
import { cursorPages, withCursor, type Cursor, type CursorPage } from '../../api/cursorPages';

/** A registered OAuth client of an organization. */
export interface OAuthClient {
  /** The client id (`cli_...`), used as `client_id` in the protocol. */
  id: string;
  name: string;
  type: 'confidential' | 'public';
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  grant_types: string[];
  scopes: string[];
  created_at: string;
  /** Confidential clients, in the creation answer only. */
  client_secret?: string;
}

export interface NewOAuthClient {
  name: string;
  type: 'confidential' | 'public';
  redirect_uris: string[];
  scopes?: string[];
}

/** A pending authorization request, for the consent page. */
export interface AuthorizationRequest {
  id: string;
  client_id: string;
  client_name: string;
  scopes: string[];
  redirect_uri: string;
  consented: boolean;
  expires_at: string;
}

const clients = (orgId: string) => `/api/v1/orgs/${encodeURIComponent(orgId)}/oauth-clients`;

export const oauthApi = baseApi.injectEndpoints({
  endpoints: (build) => ({
    listOAuthClients: build.infiniteQuery<CursorPage<OAuthClient>, string, Cursor>({
      infiniteQueryOptions: cursorPages,
      query: ({ queryArg: orgId, pageParam }) => withCursor(clients(orgId), pageParam),
      providesTags: ['OAuthClients'],
    }),
    createOAuthClient: build.mutation<OAuthClient, { orgId: string } & NewOAuthClient>({
      query: ({ orgId, ...body }) => ({ url: clients(orgId), method: 'POST', body }),
      invalidatesTags: ['OAuthClients'],
    }),
    deleteOAuthClient: build.mutation<undefined, { orgId: string; clientId: string }>({
      query: ({ orgId, clientId }) => ({
        url: `${clients(orgId)}/${encodeURIComponent(clientId)}`,
        method: 'DELETE',
      }),
      invalidatesTags: ['OAuthClients'],
    }),
    getAuthorizationRequest: build.query<AuthorizationRequest, string>({
      query: (id) => `/api/v1/oauth2/requests/${encodeURIComponent(id)}`,
    }),
    decideAuthorizationRequest: build.mutation<
      { redirect_to: string },
      { id: string; approve: boolean }
    >({
      query: ({ id, approve }) => ({
        url: `/api/v1/oauth2/requests/${encodeURIComponent(id)}/decision`,
        method: 'POST',
        body: { approve },
      }),
    }),
  }),
});

export const {
  useListOAuthClientsInfiniteQuery,
  useCreateOAuthClientMutation,
  useDeleteOAuthClientMutation,
  useGetAuthorizationRequestQuery,
  useDecideAuthorizationRequestMutation,
} = oauthApi;
