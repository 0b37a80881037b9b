import Alert from '@mui/material/Alert';
import AlertTitle from '@mui/material/AlertTitle';
import Button from '@mui/material/Button';
import type { ReactNode } from 'react';

interface SecretAlertProps {
  /** What was made, e.g. "Key “ci” created". */
  title: string;
  /** Called by "Done": the page forgets the secret, which no later answer repeats. */
  onDone: () => void;
  /** The secret's read-only fields and the note that it is shown only this once. */
  children: ReactNode;
}

/**
 * The answer to creating something whose secret (an API key, a client secret) the server shows
 * only in that answer: kept on screen until "Done".
 */
export function SecretAlert({ title, onDone, children }: SecretAlertProps) {
  return (
    <Alert
      severity="success"
      action={
        <Button color="inherit" size="small" onClick={onDone}>
          Done
        </Button>
      }
    >
      <AlertTitle>{title}</AlertTitle>
      {children}
    </Alert>
  );
}
