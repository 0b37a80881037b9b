import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import Typography from '@mui/material/Typography';
import type { ReactNode } from 'react';
import { LoadingState } from './LoadingState';
import { ProblemAlert } from './ProblemAlert';
import type { CursorList } from './useCursorList';
import { VisuallyHidden } from './VisuallyHidden';

interface ListTableProps<T> {
  /** The list, from `useCursorList`. */
  list: CursorList<T>;
  /** The table's accessible name, e.g. "API keys". */
  label: string;
  /** Shown and announced while the first page loads, e.g. "Loading API keys". */
  loadingLabel: string;
  /** Shown instead of the table when the list is empty; without it an empty table shows. */
  emptyText?: string;
  /** The column headers, in order; a last column named "Actions" (for screen readers) follows. */
  columns: string[];
  /** Offers Retry when the first page fails. */
  retryable?: boolean;
  /** The key of an item's row. */
  rowKey: (item: T) => string;
  /** An item's cells (`TableCell`s), one per column plus the actions cell. */
  renderCells: (item: T) => ReactNode;
}

/** A list answer as a table: loading and error states, the empty text, the rows. */
export function ListTable<T>({
  list,
  label,
  loadingLabel,
  emptyText,
  columns,
  retryable = false,
  rowKey,
  renderCells,
}: ListTableProps<T>) {
  if (list.items === undefined) {
    return list.problem === undefined ? (
      <LoadingState label={loadingLabel} />
    ) : (
      <ProblemAlert problem={list.problem} onRetry={retryable ? list.retry : undefined} />
    );
  }
  if (list.items.length === 0 && emptyText !== undefined) {
    return <Typography color="text.secondary">{emptyText}</Typography>;
  }
  return (
    <TableContainer>
      <Table size="small" aria-label={label}>
        <TableHead>
          <TableRow>
            {columns.map((column) => (
              <TableCell key={column}>{column}</TableCell>
            ))}
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
  );
}
