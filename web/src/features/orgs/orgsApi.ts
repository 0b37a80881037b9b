import { baseApi } from '../../api/baseApi';
import { allPages, cursorPages, withCursor, type Cursor } from '../../api/cursorPages';
import type {
  ApiKey,
  CreatedApiKey,
  Invitation,
  InvitationPreview,
  List,
  Member,
  Org,
  PermissionCatalog,
  Role,
} from './types';

const org = (orgId: string) => `/api/v1/orgs/${encodeURIComponent(orgId)}`;

export const orgsApi = baseApi.injectEndpoints({
  endpoints: (build) => ({
    listOrgs: build.query<List<Org>, undefined>({
      query: () => '/api/v1/orgs',
      providesTags: ['Orgs'],
    }),
    getOrg: build.query<Org, string>({
      query: (orgId) => org(orgId),
      providesTags: ['Orgs'],
    }),
    createOrg: build.mutation<Org, { name: string; slug?: string }>({
      query: (body) => ({ url: '/api/v1/orgs', method: 'POST', body }),
      invalidatesTags: ['Orgs'],
    }),
    updateOrg: build.mutation<
      Org,
      { orgId: string; name?: string; slug?: string; require_mfa?: boolean }
    >({
      query: ({ orgId, ...body }) => ({ url: org(orgId), method: 'PATCH', body }),
      invalidatesTags: ['Orgs'],
    }),
    listMembers: build.infiniteQuery<List<Member>, string, Cursor>({
      infiniteQueryOptions: cursorPages,
      query: ({ queryArg: orgId, pageParam }) => withCursor(`${org(orgId)}/members`, pageParam),
      providesTags: ['Members'],
    }),
    updateMemberRole: build.mutation<Member, { orgId: string; userId: string; role: string }>({
      query: ({ orgId, userId, role }) => ({
        url: `${org(orgId)}/members/${encodeURIComponent(userId)}`,
        method: 'PATCH',
        body: { role },
      }),
      invalidatesTags: ['Members', 'Orgs'],
    }),
    removeMember: build.mutation<undefined, { orgId: string; userId: string }>({
      query: ({ orgId, userId }) => ({
        url: `${org(orgId)}/members/${encodeURIComponent(userId)}`,
        method: 'DELETE',
      }),
      invalidatesTags: ['Members'],
    }),
    listInvitations: build.infiniteQuery<List<Invitation>, string, Cursor>({
      infiniteQueryOptions: cursorPages,
      query: ({ queryArg: orgId, pageParam }) => withCursor(`${org(orgId)}/invitations`, pageParam),
      providesTags: ['Invitations'],
    }),
    invite: build.mutation<Invitation, { orgId: string; email: string; role: string }>({
      query: ({ orgId, ...body }) => ({
        url: `${org(orgId)}/invitations`,
        method: 'POST',
        body,
      }),
      invalidatesTags: ['Invitations'],
    }),
    revokeInvitation: build.mutation<undefined, { orgId: string; invitationId: string }>({
      query: ({ orgId, invitationId }) => ({
        url: `${org(orgId)}/invitations/${encodeURIComponent(invitationId)}`,
        method: 'DELETE',
      }),
      invalidatesTags: ['Invitations'],
    }),
    previewInvitation: build.mutation<InvitationPreview, { token: string }>({
      query: (body) => ({ url: '/api/v1/invitations/preview', method: 'POST', body }),
    }),
    acceptInvitation: build.mutation<Org, { token: string }>({
      query: (body) => ({ url: '/api/v1/invitations/accept', method: 'POST', body }),
      invalidatesTags: ['Orgs', 'Members'],
    }),
    getPermissionCatalog: build.query<PermissionCatalog, undefined>({
      query: () => '/api/v1/permissions',
    }),
    listRoles: build.infiniteQuery<List<Role>, string, Cursor>({
      infiniteQueryOptions: cursorPages,
      query: ({ queryArg: orgId, pageParam }) => withCursor(`${org(orgId)}/roles`, pageParam),
      providesTags: ['Roles'],
    }),
    /** Every role at once, every page followed: for the role menus, which must offer them all. */
    listAllRoles: build.query<Role[], string>({
      queryFn: allPages<Role, string>((orgId) => `${org(orgId)}/roles`),
      providesTags: ['Roles'],
    }),
    createRole: build.mutation<
      Role,
      { orgId: string; name: string; description: string; permissions: string[] }
    >({
      query: ({ orgId, ...body }) => ({ url: `${org(orgId)}/roles`, method: 'POST', body }),
      invalidatesTags: ['Roles'],
    }),
    deleteRole: build.mutation<undefined, { orgId: string; roleId: string }>({
      query: ({ orgId, roleId }) => ({
        url: `${org(orgId)}/roles/${encodeURIComponent(roleId)}`,
        method: 'DELETE',
      }),
      invalidatesTags: ['Roles'],
    }),
    listApiKeys: build.infiniteQuery<List<ApiKey>, string, Cursor>({
      infiniteQueryOptions: cursorPages,
      query: ({ queryArg: orgId, pageParam }) => withCursor(`${org(orgId)}/api-keys`, pageParam),
      providesTags: ['ApiKeys'],
    }),
    createApiKey: build.mutation<
      CreatedApiKey,
      { orgId: string; name: string; permissions: string[]; expires_at?: string }
    >({
      query: ({ orgId, ...body }) => ({ url: `${org(orgId)}/api-keys`, method: 'POST', body }),
      invalidatesTags: ['ApiKeys'],
    }),
    revokeApiKey: build.mutation<undefined, { orgId: string; keyId: string }>({
      query: ({ orgId, keyId }) => ({
        url: `${org(orgId)}/api-keys/${encodeURIComponent(keyId)}`,
        method: 'DELETE',
      }),
      invalidatesTags: ['ApiKeys'],
    }),
  }),
});

export const {
  useListOrgsQuery,
  useGetOrgQuery,
  useCreateOrgMutation,
  useUpdateOrgMutation,
  useListMembersInfiniteQuery,
  useUpdateMemberRoleMutation,
  useRemoveMemberMutation,
  useListInvitationsInfiniteQuery,
  useInviteMutation,
  useRevokeInvitationMutation,
  usePreviewInvitationMutation,
  useAcceptInvitationMutation,
  useGetPermissionCatalogQuery,
  useListRolesInfiniteQuery,
  useListAllRolesQuery,
  useCreateRoleMutation,
  useDeleteRoleMutation,
  useListApiKeysInfiniteQuery,
  useCreateApiKeyMutation,
  useRevokeApiKeyMutation,
} = orgsApi;
