import { createSlice, type PayloadAction, type UnknownAction } from '@reduxjs/toolkit';

/**
 * The signed-in session as the console holds it. The access token lives in memory only (this
 * store), never in localStorage or a readable cookie, so a script injected into the page cannot
 * carry it off after the tab closes. The refresh token is an HttpOnly cookie (`nimbus_refresh`,
 * Path=/api/v1/auth) the console never sees; it is spent by `POST /api/v1/auth/refresh` with the
 * readable `nimbus_csrf` cookie echoed in `X-CSRF-Token`.
 */
export interface SessionState {
  /** `unknown` until the first restore attempt on page load has finished. */
  status: 'unknown' | 'signedIn' | 'signedOut';
  accessToken: string | null;
  /** When the access token expires, in ms since the epoch (client clock). */
  expiresAt: number | null;
  /**
   * Only when a server answers without the cookie (`refresh_token` in the body): kept in memory
   * like the access token, so the session lasts as long as the tab.
   */
  refreshToken: string | null;
  /** The organization the console works in (the org switcher's choice); not a secret. */
  orgId: string | null;
}

const kOrgStorageKey = 'nimbus.org';

function storedOrgId(): string | null {
  try {
    return window.localStorage.getItem(kOrgStorageKey);
  } catch {
    return null;
  }
}

function storeOrgId(orgId: string | null) {
  try {
    if (orgId === null) window.localStorage.removeItem(kOrgStorageKey);
    else window.localStorage.setItem(kOrgStorageKey, orgId);
  } catch {
    // Storage switched off: the choice lasts as long as the tab.
  }
}

const initialState: SessionState = {
  status: 'unknown',
  accessToken: null,
  expiresAt: null,
  refreshToken: null,
  orgId: storedOrgId(),
};

/** What the login, MFA and refresh routes answer. */
export interface TokenAnswer {
  access_token: string;
  token_type?: string;
  expires_in: number;
  refresh_token?: string;
}

const kMsPerSecond = 1000;

export const sessionSlice = createSlice({
  name: 'session',
  initialState,
  reducers: {
    sessionStarted(state, action: PayloadAction<{ tokens: TokenAnswer; now: number }>) {
      const { tokens, now } = action.payload;
      state.status = 'signedIn';
      state.accessToken = tokens.access_token;
      state.expiresAt = now + tokens.expires_in * kMsPerSecond;
      state.refreshToken = tokens.refresh_token ?? null;
    },
    sessionEnded(state) {
      return { ...initialState, status: 'signedOut' as const, orgId: state.orgId };
    },
    orgSelected(state, action: PayloadAction<string | null>) {
      state.orgId = action.payload;
      storeOrgId(action.payload);
    },
  },
});

export const { sessionStarted, sessionEnded, orgSelected } = sessionSlice.actions;

interface WithSession {
  session: SessionState;
}

/** The access token for `Authorization`, or null when signed out. */
export function selectAccessToken(state: WithSession): string | null {
  return state.session.accessToken;
}

/** The name of the readable cookie the server sets beside the refresh cookie. */
export const kCsrfCookie = 'nimbus_csrf';

/** The CSRF cookie's value, or null when there is none (no cookie session to restore). */
export function readCsrfCookie(cookies: string = document.cookie): string | null {
  for (const part of cookies.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === kCsrfCookie) {
      const value = rest.join('=');
      return value === '' ? null : decodeURIComponent(value);
    }
  }
  return null;
}

/** Headers for the cookie-authenticated auth routes (refresh, logout). */
export function csrfHeaders(): Record<string, string> {
  const csrf = readCsrfCookie();
  return {
    'Content-Type': 'application/json',
    Accept: 'application/json, application/problem+json',
    ...(csrf === null ? {} : { 'X-CSRF-Token': csrf }),
  };
}

function isTokenAnswer(value: unknown): value is TokenAnswer {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>).access_token === 'string' &&
    typeof (value as Record<string, unknown>).expires_in === 'number'
  );
}

interface SessionDispatch {
  dispatch: (action: UnknownAction) => unknown;
  getState: () => unknown;
}

let refreshing: Promise<boolean> | null = null;

/**
 * Exchanges the refresh cookie (or the in-memory refresh token) for a new access token. Calls
 * made while one is under way share it: the refresh token rotates, so two at once would spend it
 * twice, and the server revokes a session whose spent token comes back. Resolves to whether the
 * session goes on; on failure the session has ended.
 */
export function refreshSession({ dispatch, getState }: SessionDispatch): Promise<boolean> {
  refreshing ??= (async () => {
    const { refreshToken } = (getState() as WithSession).session;
    if (refreshToken === null && readCsrfCookie() === null) {
      dispatch(sessionEnded());
      return false;
    }
    try {
      const response = await fetch(
        new Request(new URL('/api/v1/auth/refresh', window.location.origin), {
          method: 'POST',
          credentials: 'same-origin',
          headers: csrfHeaders(),
          body: JSON.stringify(refreshToken === null ? {} : { refresh_token: refreshToken }),
        }),
      );
      const body: unknown = response.ok ? await response.json() : null;
      if (isTokenAnswer(body)) {
        dispatch(sessionStarted({ tokens: body, now: Date.now() }));
        return true;
      }
    } catch {
      // Unreachable server: the session cannot go on; the page says so on its next request.
    }
    dispatch(sessionEnded());
    return false;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** Ends the session on the server (refresh cookie revoked) and in the console. */
export async function signOut({ dispatch, getState }: SessionDispatch): Promise<void> {
  const { refreshToken } = (getState() as WithSession).session;
  try {
    await fetch(
      new Request(new URL('/api/v1/auth/logout', window.location.origin), {
        method: 'POST',
        credentials: 'same-origin',
        headers: csrfHeaders(),
        body: JSON.stringify(refreshToken === null ? {} : { refresh_token: refreshToken }),
      }),
    );
  } catch {
    // Signed out in the console all the same; the server's session expires by itself.
  }
  dispatch(sessionEnded());
  dispatch(orgSelected(null));
}
