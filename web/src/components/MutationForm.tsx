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
  /** Whether the submit button cannot be pressed (the form lacks what it needs). */
  submitDisabled?: boolean;
  /** A submit button as wide as the form (the sign-in and sign-up cards). */
  wideSubmit?: boolean;
  /** A note on what the form does, shown before everything else. */
  intro?: ReactNode;
  /** What the last success produced (an alert), shown first after the intro. */
  notice?: ReactNode;
  /** The fields. */
  children: ReactNode;
  /** What follows the submit button: other buttons, links. */
  footer?: ReactNode;
}

/**
 * A form that sends one request: the intro, the success notice, the problem, the fields, the
 * submit button and the footer, in that order. Validation is the server's (`noValidate`), so its
 * problem names the fields, which show it (`FormTextField`).
 */
export function MutationForm({
  onSubmit,
  problem,
  submitLabel,
  submitting,
  submitDisabled = false,
  wideSubmit = false,
  intro,
  notice,
  children,
  footer,
}: MutationFormProps) {
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    onSubmit();
  };
  return (
    <Stack component="form" spacing={2} onSubmit={submit} noValidate>
      {intro}
      {notice}
      {problem !== undefined && <ProblemAlert problem={problem} />}
      {children}
      <div>
        <Button
          type="submit"
          variant="contained"
          fullWidth={wideSubmit}
          disabled={submitDisabled}
          loading={submitting}
        >
          {submitLabel}
        </Button>
      </div>
      {footer}
    </Stack>
  );
}
