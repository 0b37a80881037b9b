/** The signed-in account (`GET /api/v1/me`). */
export interface Me {
  id: string;
  email: string;
  name: string;
  email_verified: boolean;
  created_at: string;
  updated_at: string;
  /** A platform operator: may manage the firewall, rate limits and read the dev mailbox. */
  is_operator?: boolean;
  /** Whether a second factor (TOTP) guards sign-in. */
  mfa_enabled?: boolean;
}

/** One open session of the account (`GET /api/v1/me/sessions`). */
export interface Session {
  id: string;
  device: string;
  user_agent: string;
  ip: string;
  created_at: string;
  last_seen_at: string;
  current: boolean;
}

export interface Page<T> {
  data: T[];
  next_cursor?: string | null;
}

/** `POST /api/v1/auth/login` (and `/login/mfa`) when a second factor is still needed. */
export interface MfaChallenge {
  mfa_required: true;
  mfa_token: string;
}

export interface LoginRequest {
  email: string;
  password: string;
}

export interface SignupRequest {
  email: string;
  password: string;
  name?: string;
}
