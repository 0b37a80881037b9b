import { useGetMeQuery } from '../features/identity/identityApi';
import { useCurrentOrg } from '../features/orgs/useCurrentOrg';
import type { Me } from '../features/identity/types';
import { useAppSelector } from './hooks';

/** Who is looking at the console, as far as the navigation and the page guards care. */
export interface Viewer {
  /** `unknown` while the session is being restored on page load. */
  status: 'unknown' | 'signedIn' | 'signedOut';
  me: Me | undefined;
  isOperator: boolean;
  /**
   * Whether the console was opened on a loopback address: the server answers the dev mailbox
   * to loopback clients, so its page is offered there to everyone.
   */
  loopback: boolean;
  /** The caller's permissions in the current organization; null while unknown or in none. */
  orgPermissions: readonly string[] | null;
}

const kLoopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Whether `hostname` is a loopback name or address. */
export function isLoopbackHost(hostname: string): boolean {
  return kLoopbackHosts.has(hostname) || hostname.startsWith('127.');
}

/** The current viewer; asks for `/api/v1/me` once signed in. */
export function useViewer(): Viewer {
  const status = useAppSelector((state) => state.session.status);
  const me = useGetMeQuery(undefined, { skip: status !== 'signedIn' });
  const data = status === 'signedIn' ? me.data : undefined;
  const { org } = useCurrentOrg();
  return {
    orgPermissions: org?.permissions ?? null,
    status,
    me: data,
    isOperator: data?.is_operator === true,
    loopback: isLoopbackHost(window.location.hostname),
  };
}
