import type { SerializedError } from '@reduxjs/toolkit';
import type { FetchBaseQueryError } from '@reduxjs/toolkit/query';
import { useMemo } from 'react';
import type { CursorPage } from '../api/cursorPages';
import { toProblem, type Problem } from '../api/problem';

/**
 * What `useCursorList` reads of an RTK Query infinite query over `CursorPage`s
 * (`useListMembersInfiniteQuery(orgId)` and the like); the hook's whole result fits.
 */
export interface InfiniteListQuery<T> {
  data?: { pages: CursorPage<T>[] };
  error?: FetchBaseQueryError | SerializedError;
  isError: boolean;
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  isFetchNextPageError: boolean;
  fetchNextPage: () => unknown;
  refetch: () => unknown;
}

/** A list read page by page, as the shared list table shows it. */
export interface CursorList<T> {
  /** Every item of the pages loaded so far, in the server's order; undefined before the first. */
  items: T[] | undefined;
  /** Why the first page failed (nothing to show); undefined otherwise. */
  problem: Problem | undefined;
  /** Why the last "show more" failed; the items loaded before it stay. */
  moreProblem: Problem | undefined;
  /** Whether the server named a next page (`next_cursor` not null). */
  hasMore: boolean;
  /** Whether the next page is on its way. */
  loadingMore: boolean;
  /** Asks for the next page; its items are appended to `items`. */
  showMore: () => void;
  /** Loads the list again from its first page. */
  retry: () => void;
}

/**
 * Follows a list endpoint's `next_cursor`: the items of every page loaded so far, and whether
 * and how to load the next. Works the same against a server that does not page (one page whose
 * `next_cursor` is null or absent).
 *
 * ```tsx
 * const members = useCursorList(useListMembersInfiniteQuery(org.id));
 * return <ListTable list={members} ... />;
 * ```
 */
export function useCursorList<T>(query: InfiniteListQuery<T>): CursorList<T> {
  const { data, error, isError, hasNextPage, isFetchingNextPage, isFetchNextPageError } = query;
  const { fetchNextPage, refetch } = query;
  const items = useMemo(() => data?.pages.flatMap((page) => page.data), [data]);
  return {
    items,
    problem: items === undefined && isError ? toProblem(error) : undefined,
    moreProblem: items !== undefined && isFetchNextPageError ? toProblem(error) : undefined,
    hasMore: hasNextPage,
    loadingMore: isFetchingNextPage,
    showMore: () => {
      void fetchNextPage();
    },
    retry: () => {
      void refetch();
    },
  };
}

/** What `useWholeList` reads of an RTK Query query whose answer is one whole list, `{data: [...]}`. */
export interface WholeListQuery<T> {
  data?: { data: T[] };
  error?: FetchBaseQueryError | SerializedError;
  isError: boolean;
  refetch: () => unknown;
}

/**
 * A list endpoint that answers everything at once (the firewall's rules, the rate-limit overrides)
 * as the shared list table shows it: one page, no "Show more".
 *
 * ```tsx
 * const rules = useWholeList(useListIpRulesQuery(undefined));
 * return <ListTable list={rules} ... />;
 * ```
 */
export function useWholeList<T>(query: WholeListQuery<T>): CursorList<T> {
  const { data, error, isError, refetch } = query;
  const items = data?.data;
  return {
    items,
    problem: items === undefined && isError ? toProblem(error) : undefined,
    moreProblem: undefined,
    hasMore: false,
    loadingMore: false,
    showMore: () => undefined,
    retry: () => {
      void refetch();
    },
  };
}
