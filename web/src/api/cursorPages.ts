import type { FetchArgs } from '@reduxjs/toolkit/query';

/**
 * One page of a Nimbus list answer: `{"data": [...], "next_cursor": string|null}`. The server
 * answers `?limit=` items at a time (100 unless asked) and `next_cursor` names the next page;
 * null (or absent, from a server that does not page yet) means this was the last.
 */
export interface CursorPage<T> {
  data: T[];
  next_cursor?: string | null;
}

/**
 * The page parameter of a list endpoint: the cursor to send, '' for the first page (which
 * carries no `cursor`).
 */
export type Cursor = string;

/**
 * `infiniteQueryOptions` for a cursor-paged list endpoint: start without a cursor, then follow
 * each page's `next_cursor` until it is null.
 *
 * ```ts
 * listMembers: build.infiniteQuery<CursorPage<Member>, string, Cursor>({
 *   infiniteQueryOptions: cursorPages,
 *   query: ({ queryArg, pageParam }) => withCursor(`/api/v1/orgs/${queryArg}/members`, pageParam),
 * }),
 * ```
 */
export const cursorPages = {
  initialPageParam: '' as Cursor,
  getNextPageParam: (lastPage: CursorPage<unknown>): Cursor | undefined =>
    lastPage.next_cursor ?? undefined,
};

/** The request for one page of `url`: no query string for the first page, `?cursor=` after. */
export function withCursor(url: string, cursor: Cursor): FetchArgs {
  return cursor === '' ? { url } : { url, params: { cursor } };
}
