import { describe, expect, it } from 'vitest';
import { safeNextPath } from './fieldError';
import { readCsrfCookie } from './session';

describe('readCsrfCookie', () => {
  it('finds the CSRF cookie among others', () => {
    expect(readCsrfCookie('a=1; nimbus_csrf=abc%3D; b=2')).toBe('abc=');
  });

  it('answers null without one, or when it is empty', () => {
    expect(readCsrfCookie('a=1')).toBeNull();
    expect(readCsrfCookie('nimbus_csrf=')).toBeNull();
    expect(readCsrfCookie('')).toBeNull();
  });
});

describe('safeNextPath', () => {
  it('keeps a path on this origin', () => {
    expect(safeNextPath('/org/members?x=1')).toBe('/org/members?x=1');
  });

  it.each([null, 'https://evil.example/', '//evil.example/', '/\\evil.example', 'org'])(
    'refuses %s and goes to the account page instead',
    (next) => {
      expect(safeNextPath(next)).toBe('/account');
    },
  );
});
