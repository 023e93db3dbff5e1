/** Governance times: ISO-8601 UTC with milliseconds, as in audit entries, naming a real instant. */
import { StrongroomError } from '../domain/errors.ts';

const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function isIsoTime(value: unknown): value is string {
  if (typeof value !== 'string' || !ISO_RE.test(value)) return false;
  const t = Date.parse(value);
  return !Number.isNaN(t) && new Date(t).toISOString() === value;
}

/** Epoch milliseconds of `value`, or E_VALIDATION naming `field`. */
export function checkIsoTime(value: unknown, field: string): number {
  if (!isIsoTime(value)) {
    throw new StrongroomError(
      'E_VALIDATION',
      `${field} must be ISO-8601 UTC with milliseconds (e.g. 2025-01-31T12:00:00.000Z)`,
      {
        details: { field },
      },
    );
  }
  return Date.parse(value);
}
