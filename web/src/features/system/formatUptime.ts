interface Unit {
  seconds: number;
  singular: string;
  plural: string;
}

const kUnits: readonly Unit[] = [
  { seconds: 86_400, singular: 'day', plural: 'days' },
  { seconds: 3_600, singular: 'hour', plural: 'hours' },
  { seconds: 60, singular: 'minute', plural: 'minutes' },
  { seconds: 1, singular: 'second', plural: 'seconds' },
];

/** How many units, from the largest that is not zero, a duration is written with. */
const kShownUnits = 3;

/**
 * Writes a duration in seconds the way a person says it: "3 days, 4 hours, 12 minutes",
 * "1 hour, 5 seconds", "42 seconds". It names at most three units, starting at the largest one that
 * is not zero, leaves out units that are zero, and drops fractions of a second. Negative or
 * non-finite input (a clock step, a bad answer) reads as "0 seconds".
 */
export function formatUptime(totalSeconds: number): string {
  let remaining = Number.isFinite(totalSeconds) && totalSeconds > 0 ? Math.floor(totalSeconds) : 0;
  const firstShown = kUnits.findIndex((unit) => remaining >= unit.seconds);
  if (firstShown === -1) {
    return '0 seconds';
  }
  const parts: string[] = [];
  kUnits.forEach((unit, index) => {
    const count = Math.floor(remaining / unit.seconds);
    remaining -= count * unit.seconds;
    if (index >= firstShown && index < firstShown + kShownUnits && count > 0) {
      parts.push(`${count} ${count === 1 ? unit.singular : unit.plural}`);
    }
  });
  return parts.join(', ');
}
