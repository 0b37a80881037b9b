import { baseApi } from '../../api/baseApi';
import { cursorPages, withCursor, type Cursor } from '../../api/cursorPages';
import type { TokenAnswer } from '../../api/session';
import type { LoginRequest, Me, MfaChallenge, Page, Session, SignupRequest } from './types';

/** Login answers either tokens or an MFA challenge. */
export type LoginAnswer = TokenAnswer | MfaChallenge;

export function isMfaChallenge(answer: LoginAnswer): answer is MfaChallenge {
  return 'mfa_required' in answer;
}

export const identityApi = baseApi.injectEndpoints({
  endpoints: (build) => ({
    signup: build.mutation<{ status: string; message?: string }, SignupRequest>({
      query: (body) => ({ url: '/api/v1/auth/signup', method: 'POST', body }),
    }),
    verifyEmail: build.mutation<undefined, { token: string }>({
      query: (body) => ({ url: '/api/v1/auth/verify-email', method: 'POST', body }),
      invalidatesTags: ['Me'],
    }),
    // The refresh token goes into an HttpOnly cookie (`use_cookie`), never into the page.
    login: build.mutation<LoginAnswer, LoginRequest>({
      query: (body) => ({
        url: '/api/v1/auth/login',
        method: 'POST',
        body: { ...body, use_cookie: true },
      }),
    }),
    loginMfa: build.mutation<LoginAnswer, { mfa_token: string; code: string }>({
      query: (body) => ({
        url: '/api/v1/auth/login/mfa',
        method: 'POST',
        body: { ...body, use_cookie: true },
      }),
    }),
    // The same answer whether or not an account needs the link (no account enumeration).
    resendVerification: build.mutation<{ status: string }, { email: string }>({
      query: (body) => ({ url: '/api/v1/auth/verify-email/resend', method: 'POST', body }),
    }),
    forgotPassword: build.mutation<{ status: string }, { email: string }>({
      query: (body) => ({ url: '/api/v1/auth/password/forgot', method: 'POST', body }),
    }),
    resetPassword: build.mutation<undefined, { token: string; password: string }>({
      query: (body) => ({ url: '/api/v1/auth/password/reset', method: 'POST', body }),
    }),
    getMe: build.query<Me, undefined>({
      query: () => '/api/v1/me',
      providesTags: ['Me'],
    }),
    updateMe: build.mutation<Me, { name: string }>({
      query: (body) => ({ url: '/api/v1/me', method: 'PATCH', body }),
      invalidatesTags: ['Me'],
    }),
    deleteMe: build.mutation<undefined, undefined>({
      query: () => ({ url: '/api/v1/me', method: 'DELETE' }),
    }),
    changePassword: build.mutation<undefined, { current_password: string; new_password: string }>({
      query: (body) => ({ url: '/api/v1/me/password', method: 'POST', body }),
      invalidatesTags: ['Sessions'],
    }),
    changeEmail: build.mutation<{ status: string }, { new_email: string; password: string }>({
      query: (body) => ({ url: '/api/v1/me/email', method: 'POST', body }),
    }),
    listSessions: build.infiniteQuery<Page<Session>, undefined, Cursor>({
      infiniteQueryOptions: cursorPages,
      query: ({ pageParam }) => withCursor('/api/v1/me/sessions', pageParam),
      providesTags: ['Sessions'],
    }),
    revokeSession: build.mutation<undefined, string>({
      query: (id) => ({ url: `/api/v1/me/sessions/${encodeURIComponent(id)}`, method: 'DELETE' }),
      invalidatesTags: ['Sessions'],
    }),
  }),
});

export const {
  useSignupMutation,
  useVerifyEmailMutation,
  useLoginMutation,
  useLoginMfaMutation,
  useForgotPasswordMutation,
  useResendVerificationMutation,
  useResetPasswordMutation,
  useGetMeQuery,
  useUpdateMeMutation,
  useDeleteMeMutation,
  useChangePasswordMutation,
  useChangeEmailMutation,
  useListSessionsInfiniteQuery,
  useRevokeSessionMutation,
} = identityApi;
