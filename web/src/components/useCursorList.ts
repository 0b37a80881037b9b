import type { SerializedError } from '@reduxjs/toolkit';
import type { FetchBaseQueryError } from '@reduxjs/toolkit/query';
import { toProblem, type Problem } from '../api/problem';

/** What `useCursorList` reads of an RTK Query list query (`{"data": [...]}` answers). */
export interface ListQuery<T> {
  data?: { data: T[] };
  error?: FetchBaseQueryError | SerializedError;
  isError: boolean;
  refetch: () => unknown;
}

/** A list as the shared list table shows it. */
export interface CursorList<T> {
  /** The items, in the server's order; undefined before the answer. */
  items: T[] | undefined;
  /** Why the list failed (nothing to show); undefined otherwise. */
  problem: Problem | undefined;
  /** Loads the list again. */
  retry: () => void;
}

/**
 * A list endpoint's answer as items, problem and retry, for `ListTable`.
 *
 * ```tsx
 * const members = useCursorList(useListMembersQuery(org.id));
 * return <ListTable list={members} ... />;
 * ```
 */
export function useCursorList<T>(query: ListQuery<T>): CursorList<T> {
  const { data, error, isError, refetch } = query;
  const items = data?.data;
  return {
    items,
    problem: items === undefined && isError ? toProblem(error) : undefined,
    retry: () => {
      void refetch();
    },
  };
}
