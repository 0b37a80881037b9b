import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import { useEffect, useRef, type ReactNode } from 'react';
import type { Problem } from '../api/problem';
import { LoadingState } from './LoadingState';
import { ProblemAlert } from './ProblemAlert';
import type { CursorList } from './useCursorList';
import { VisuallyHidden } from './VisuallyHidden';

interface ListTableProps<T> {
  /** The list, from `useCursorList`. */
  list: CursorList<T>;
  /** The table's accessible name, e.g. "API keys". */
  label: string;
  /** What the items are, in the plural ("members"): names the "Show more" button. */
  itemsName: string;
  /** Shown and announced while the first page loads, e.g. "Loading API keys". */
  loadingLabel: string;
  /** Shown instead of the table when the list is empty; without it an empty table shows. */
  emptyText?: string;
  /**
   * The column headers, in order (`{ label, align: 'right' }` for numbers); a last column named
   * "Actions" (for screen readers) follows.
   */
  columns: (string | { label: string; align: 'right' })[];
  /** Why the last row action (revoke, delete, a role change) failed; shown above the table. */
  actionProblem?: Problem;
  /** Offers Retry when the first page fails. */
  retryable?: boolean;
  /** The key of an item's row. */
  rowKey: (item: T) => string;
  /** An item's cells (`TableCell`s), one per column plus the actions cell. */
  renderCells: (item: T) => ReactNode;
}

/**
 * A list answer as a table: loading and error states, the empty text, the rows, and a
 * "Show more" button while the server names a next page. When the last page arrives the button
 * goes and focus moves to the table, so a keyboard user is not dropped at the top of the page.
 */
export function ListTable<T>({ actionProblem, ...props }: ListTableProps<T>) {
  return (
    <>
      {actionProblem !== undefined && <ProblemAlert problem={actionProblem} />}
      <ListBody {...props} />
    </>
  );
}

function ListBody<T>({
  list,
  label,
  itemsName,
  loadingLabel,
  emptyText,
  columns,
  retryable = false,
  rowKey,
  renderCells,
}: Omit<ListTableProps<T>, 'actionProblem'>) {
  const tableRef = useRef<HTMLDivElement>(null);
  // Set by a click on "Show more"; read once that page has arrived.
  const focusAfterMore = useRef(false);
  useEffect(() => {
    if (!focusAfterMore.current || list.loadingMore) return;
    focusAfterMore.current = false;
    if (!list.hasMore) tableRef.current?.focus();
  }, [list.loadingMore, list.hasMore]);

  if (list.items === undefined) {
    return list.problem === undefined ? (
      <LoadingState label={loadingLabel} />
    ) : (
      <ProblemAlert problem={list.problem} onRetry={retryable ? list.retry : undefined} />
    );
  }
  if (list.items.length === 0 && emptyText !== undefined && !list.hasMore) {
    return <Typography color="text.secondary">{emptyText}</Typography>;
  }
  return (
    <Stack spacing={1}>
      <TableContainer ref={tableRef} tabIndex={-1}>
        <Table size="small" aria-label={label}>
          <TableHead>
            <TableRow>
              {columns.map((column) =>
                typeof column === 'string' ? (
                  <TableCell key={column}>{column}</TableCell>
                ) : (
                  <TableCell key={column.label} align={column.align}>
                    {column.label}
                  </TableCell>
                ),
              )}
              <TableCell>
                <VisuallyHidden>Actions</VisuallyHidden>
              </TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {list.items.map((item) => (
              <TableRow key={rowKey(item)}>{renderCells(item)}</TableRow>
            ))}
          </TableBody>
        </Table>
      </TableContainer>
      {list.moreProblem !== undefined && (
        <ProblemAlert problem={list.moreProblem} onRetry={list.showMore} />
      )}
      {list.hasMore && (
        <div>
          <Button
            aria-label={`Show more ${itemsName}`}
            loading={list.loadingMore}
            onClick={() => {
              focusAfterMore.current = true;
              list.showMore();
            }}
          >
            Show more
          </Button>
        </div>
      )}
    </Stack>
  );
}
