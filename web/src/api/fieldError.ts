import type { Problem } from './problem';

/**
 * The message a validation problem gives for one field (`/email`, `/password`, ...), to show
 * under that field; undefined when the problem says nothing about it.
 */
export function fieldError(problem: Problem | undefined, pointer: string): string | undefined {
  return problem?.errors?.find((error) => error.pointer === pointer)?.message;
}

/** Where to go after signing in: only a path on this origin, never `//elsewhere` or a URL. */
export function safeNextPath(next: string | null, fallback = '/account'): string {
  if (next === null || !next.startsWith('/') || next.startsWith('//') || next.includes('\\')) {
    return fallback;
  }
  return next;
}
