import type { FetchBaseQueryError } from '@reduxjs/toolkit/query';
import type { SerializedError } from '@reduxjs/toolkit';

/**
 * An RFC 9457 problem detail, as every Nimbus API error is answered
 * (`application/problem+json`). Only `title` and `status` are always present here: a problem built
 * on the client for a network failure has no `type`, `instance` or `request_id`.
 */
export interface Problem {
  type?: string;
  title: string;
  status?: number;
  detail?: string;
  instance?: string;
  request_id?: string;
  /** Validation failures: which part of the request was wrong, as JSON pointers. */
  errors?: { pointer: string; message: string }[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Whether a response body is a problem document (it has at least a string `title`). */
export function isProblem(value: unknown): value is Problem {
  return isRecord(value) && typeof value.title === 'string';
}

/**
 * Turns whatever RTK Query reports as an error into a problem to show: the server's own problem
 * document when it sent one, otherwise a problem that says what went wrong on the way.
 */
export function toProblem(error: FetchBaseQueryError | SerializedError | undefined): Problem {
  if (error === undefined) {
    return { title: 'Unknown error' };
  }
  if (!('status' in error)) {
    // A SerializedError: an exception thrown on the client, not an HTTP answer.
    return { title: 'Unexpected error', detail: error.message ?? 'The request failed.' };
  }
  if (typeof error.status === 'number') {
    if (isProblem(error.data)) {
      return { ...error.data, status: error.data.status ?? error.status };
    }
    return {
      title: `The server answered ${error.status}`,
      status: error.status,
      detail: typeof error.data === 'string' && error.data !== '' ? error.data : undefined,
    };
  }
  switch (error.status) {
    case 'FETCH_ERROR':
      return {
        title: 'Cannot reach the Nimbus server',
        detail: 'Check that the server is running and your network connection.',
      };
    case 'TIMEOUT_ERROR':
      return { title: 'The server did not answer in time' };
    case 'PARSING_ERROR':
      return {
        title: 'The server sent a response the console cannot read',
        status: error.originalStatus,
        detail: error.error,
      };
    case 'CUSTOM_ERROR':
      return { title: 'The request failed', detail: error.error };
  }
}

/** Why a request's last answer failed (a mutation's or query's state), or undefined if it did not. */
export function problemOf(state: {
  isError: boolean;
  error?: FetchBaseQueryError | SerializedError;
}): Problem | undefined {
  return state.isError ? toProblem(state.error) : undefined;
}
