import type {
  FetchArgs,
  FetchBaseQueryError,
  FetchBaseQueryMeta,
  QueryReturnValue,
} from '@reduxjs/toolkit/query';

type MaybePromise<T> = T | PromiseLike<T>;

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

/** The largest page the server answers (`?limit=` is 1-200). */
export const kMaxPageSize = 200;

/** What a `queryFn` gets as its fourth argument: the API's own base query. */
type BaseQuery = (
  args: FetchArgs,
) => MaybePromise<QueryReturnValue<unknown, FetchBaseQueryError, FetchBaseQueryMeta | undefined>>;

/**
 * A `queryFn` that reads every page of a list, following `next_cursor` to the end, for places
 * that need the whole list at once (a menu of every role) rather than a "Show more" button.
 * Pages are asked for at the largest size, so most lists take one request. It stops when a
 * cursor comes back a second time, so a server that repeats itself cannot keep it looping.
 *
 * ```ts
 * listAllRoles: build.query<Role[], string>({
 *   queryFn: allPages<Role, string>((orgId) => `/api/v1/orgs/${orgId}/roles`),
 * }),
 * ```
 */
export function allPages<T, Arg>(url: (arg: Arg) => string) {
  return async (
    arg: Arg,
    _api: unknown,
    _extraOptions: unknown,
    baseQuery: BaseQuery,
  ): Promise<QueryReturnValue<T[], FetchBaseQueryError, FetchBaseQueryMeta | undefined>> => {
    const items: T[] = [];
    const seen = new Set<string>();
    let cursor: Cursor = '';
    for (;;) {
      const request = withCursor(url(arg), cursor);
      const result = await baseQuery({
        ...request,
        params: { ...(request.params as Record<string, string> | undefined), limit: kMaxPageSize },
      });
      if (result.error !== undefined) return { error: result.error, meta: result.meta };
      const page = result.data as CursorPage<T>;
      items.push(...page.data);
      const next = page.next_cursor ?? '';
      if (next === '' || seen.has(next)) return { data: items, meta: result.meta };
      seen.add(next);
      cursor = next;
    }
  };
}
