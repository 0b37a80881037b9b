import { useEffect, useRef } from 'react';
import { baseApi } from '../api/baseApi';
import { refreshSession } from '../api/session';
import { useAppSelector, useAppStore } from './hooks';

/** Refresh this long before the access token expires, so no request goes out with a stale one. */
const kRefreshLeadMs = 60_000;
/** But never sooner than this after getting one (short-lived tokens in tests and dev setups). */
const kMinRefreshDelayMs = 5_000;

/**
 * Keeps the in-memory session alive: restores it from the refresh cookie on page load, renews the
 * access token shortly before it expires, and empties the API cache when the session ends (so one
 * account's data is never shown to the next). Renders nothing.
 */
export function SessionKeeper() {
  const store = useAppStore();
  const status = useAppSelector((state) => state.session.status);
  const expiresAt = useAppSelector((state) => state.session.expiresAt);

  useEffect(() => {
    if (store.getState().session.status === 'unknown') {
      void refreshSession(store);
    }
  }, [store]);

  useEffect(() => {
    if (status !== 'signedIn' || expiresAt === null) return undefined;
    const delay = Math.max(kMinRefreshDelayMs, expiresAt - Date.now() - kRefreshLeadMs);
    const timer = window.setTimeout(() => {
      void refreshSession(store);
    }, delay);
    return () => {
      window.clearTimeout(timer);
    };
  }, [status, expiresAt, store]);

  // Only a session that ends empties the cache: on page load (unknown -> signedOut) the public
  // pages' requests are already under way and must not be dropped.
  const previousStatus = useRef(status);
  useEffect(() => {
    if (previousStatus.current === 'signedIn' && status === 'signedOut') {
      store.dispatch(baseApi.util.resetApiState());
    }
    previousStatus.current = status;
  }, [status, store]);

  return null;
}
