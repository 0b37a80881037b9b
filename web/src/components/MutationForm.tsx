import Button from '@mui/material/Button';
import Stack from '@mui/material/Stack';
import type { ReactNode, SyntheticEvent } from 'react';
import type { Problem } from '../api/problem';
import { ProblemAlert } from './ProblemAlert';

interface MutationFormProps {
  /** Called on submit (the browser's own submission is prevented). */
  onSubmit: () => void;
  /** The server's answer when it refused the last submission; shown above the fields. */
  problem: Problem | undefined;
  /** The submit button's text, e.g. "Create key". */
  submitLabel: string;
  /** Whether the submission is on its way (the button shows it and cannot be pressed). */
  submitting: boolean;
  /** What the last success produced (an alert), shown first. */
  notice?: ReactNode;
  /** The fields. */
  children: ReactNode;
}

/**
 * A form that sends one request: the success notice, the problem, the fields and the submit
 * button, in that order. Validation is the server's (`noValidate`), so its problem names the
 * fields, which show it through `fieldError`.
 */
export function MutationForm({
  onSubmit,
  problem,
  submitLabel,
  submitting,
  notice,
  children,
}: MutationFormProps) {
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    onSubmit();
  };
  return (
    <Stack component="form" spacing={2} onSubmit={submit} noValidate>
      {notice}
      {problem !== undefined && <ProblemAlert problem={problem} />}
      {children}
      <div>
        <Button type="submit" variant="contained" loading={submitting}>
          {submitLabel}
        </Button>
      </div>
    </Stack>
  );
}
