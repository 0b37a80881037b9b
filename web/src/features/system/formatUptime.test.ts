import { describe, expect, it } from 'vitest';
import { formatUptime } from './formatUptime';

describe('formatUptime', () => {
  it.each([
    [0, '0 seconds'],
    [0.9, '0 seconds'],
    [1, '1 second'],
    [12.5, '12 seconds'],
    [59, '59 seconds'],
    [60, '1 minute'],
    [61, '1 minute, 1 second'],
    [3_600, '1 hour'],
    [3_605, '1 hour, 5 seconds'],
    [3_723, '1 hour, 2 minutes, 3 seconds'],
    [86_400, '1 day'],
    [90_061, '1 day, 1 hour, 1 minute'],
    [3 * 86_400 + 4 * 3_600 + 12 * 60 + 59, '3 days, 4 hours, 12 minutes'],
    [400 * 86_400, '400 days'],
  ])('writes %s s as "%s"', (seconds, expected) => {
    expect(formatUptime(seconds)).toBe(expected);
  });

  it.each([-5, Number.NaN, Number.POSITIVE_INFINITY])('reads bad input %s as 0 seconds', (bad) => {
    expect(formatUptime(bad)).toBe('0 seconds');
  });
});
