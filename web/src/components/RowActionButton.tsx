import Button from '@mui/material/Button';

interface RowActionButtonProps {
  /** The visible text, e.g. "Revoke". */
  children: string;
  /** The full accessible name, which says which row it acts on: "Revoke the key ci". */
  label: string;
  onClick: () => void;
}

/** A table row's action that takes something away (revoke, delete, remove, sign out). */
export function RowActionButton({ children, label, onClick }: RowActionButtonProps) {
  return (
    <Button size="small" color="error" aria-label={label} onClick={onClick}>
      {children}
    </Button>
  );
}
