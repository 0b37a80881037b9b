import TextField, { type TextFieldProps } from '@mui/material/TextField';
import type { ReactNode } from 'react';
import { fieldError } from '../api/fieldError';
import type { Problem } from '../api/problem';

type FormTextFieldProps = Omit<
  TextFieldProps<'outlined'>,
  'value' | 'onChange' | 'error' | 'helperText' | 'variant'
> & {
  value: string;
  /** Called with the new text. */
  onChange: (value: string) => void;
  /** The server's answer to the last submission; its message for `pointer` shows under the field. */
  problem?: Problem;
  /** Where the field sits in the request body, as the problem names it: `/email`. */
  pointer?: string;
  /** A mistake found before sending (an empty key, two passwords that differ); shown first. */
  invalid?: string;
  /** Shown under the field while nothing is wrong with it. */
  hint?: ReactNode;
};

/**
 * A controlled text field of a form that the server validates: it shows the server's message for
 * this field (from the problem's `errors`, by JSON pointer) in place of its hint, marked as an
 * error. Everything else is passed on to MUI's `TextField` (`select` and its options too).
 */
export function FormTextField({
  value,
  onChange,
  problem,
  pointer,
  invalid,
  hint,
  ...rest
}: FormTextFieldProps) {
  const message = invalid ?? (pointer === undefined ? undefined : fieldError(problem, pointer));
  return (
    <TextField
      {...rest}
      value={value}
      onChange={(event) => {
        onChange(event.target.value);
      }}
      error={message !== undefined}
      helperText={message ?? hint}
    />
  );
}

/**
 * The account email of the sign-in, sign-up, forgot-password and re-send forms: required, typed
 * as an email, filled in by the browser, and showing the server's message for `/email`.
 */
export function EmailField({
  value,
  onChange,
  problem,
}: {
  value: string;
  onChange: (value: string) => void;
  problem?: Problem;
}) {
  return (
    <FormTextField
      label="Email"
      type="email"
      value={value}
      onChange={onChange}
      autoComplete="email"
      required
      problem={problem}
      pointer="/email"
    />
  );
}
