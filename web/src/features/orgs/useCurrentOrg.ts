import { useAppSelector } from '../../app/hooks';
import { useGetOrgQuery, useListOrgsQuery } from './orgsApi';
import type { Org } from './types';

/** The organization the console works in, and what the caller may do there. */
export interface CurrentOrg {
  /** Still loading the organizations. */
  loading: boolean;
  orgs: Org[];
  /** The chosen one (or the first), with `permissions` once known; undefined when none. */
  org: Org | undefined;
  /** Whether the caller holds a permission in it. */
  can: (permission: string) => boolean;
}

/**
 * The org switcher's choice among the caller's organizations; the first one when nothing (or an
 * organization the caller left) was chosen.
 */
export function useCurrentOrg(): CurrentOrg {
  const signedIn = useAppSelector((state) => state.session.status === 'signedIn');
  const chosen = useAppSelector((state) => state.session.orgId);
  const list = useListOrgsQuery(undefined, { skip: !signedIn });
  const orgs = list.data?.data ?? [];
  const picked = orgs.find((org) => org.id === chosen) ?? orgs[0];
  const detail = useGetOrgQuery(picked?.id ?? '', { skip: picked === undefined });
  const org = picked === undefined ? undefined : { ...picked, ...(detail.currentData ?? {}) };
  const permissions = new Set(detail.currentData?.permissions ?? []);
  return {
    loading: list.isLoading,
    orgs,
    org,
    can: (permission) => permissions.has(permission),
  };
}
