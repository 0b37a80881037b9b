import { baseApi } from '../../api/baseApi';

/** `GET /api/v1/me/mfa`. */
export interface MfaStatus {
  totp: { enabled: boolean; pending: boolean; enabled_at?: string | null };
  recovery_codes_remaining: number;
}

/** A pending TOTP secret: for the authenticator app, as text, URI and QR code (SVG). */
export interface TotpEnrolment {
  secret: string;
  otpauth_uri: string;
  qr_svg: string;
}

/** Proof for turning MFA off or replacing recovery codes: a current code or the password. */
export type MfaProof = { code: string } | { password: string };

export const mfaApi = baseApi.injectEndpoints({
  endpoints: (build) => ({
    getMfa: build.query<MfaStatus, undefined>({
      query: () => '/api/v1/me/mfa',
      providesTags: ['Mfa'],
    }),
    startTotp: build.mutation<TotpEnrolment, undefined>({
      query: () => ({ url: '/api/v1/me/mfa/totp', method: 'POST', body: {} }),
      invalidatesTags: ['Mfa'],
    }),
    confirmTotp: build.mutation<{ recovery_codes: string[] }, { code: string }>({
      query: (body) => ({ url: '/api/v1/me/mfa/totp/confirm', method: 'POST', body }),
      invalidatesTags: ['Mfa', 'Me'],
    }),
    disableTotp: build.mutation<undefined, MfaProof>({
      query: (body) => ({ url: '/api/v1/me/mfa/totp', method: 'DELETE', body }),
      invalidatesTags: ['Mfa', 'Me'],
    }),
    regenerateRecoveryCodes: build.mutation<{ recovery_codes: string[] }, MfaProof>({
      query: (body) => ({ url: '/api/v1/me/mfa/recovery-codes', method: 'POST', body }),
      invalidatesTags: ['Mfa'],
    }),
  }),
});

export const {
  useGetMfaQuery,
  useStartTotpMutation,
  useConfirmTotpMutation,
  useDisableTotpMutation,
  useRegenerateRecoveryCodesMutation,
} = mfaApi;
