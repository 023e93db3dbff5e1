import { StrongroomError } from './errors.ts';

/** Amounts are bigint base units end to end; decimal strings only at the edges, parsed strictly. */
export type Amount = bigint;

const DECIMAL_RE = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;
const MAX_DIGITS = 78; // uint256 has 78 decimal digits

/**
 * Parses a decimal string in asset units (e.g. "1.5" BTC) into base units, refusing anything that is not
 * exactly representable: numbers, signs, exponents, spaces, more fractional digits than the asset has.
 * @example parseAmount('1.5', 8) === 150000000n
 */
export function parseAmount(value: unknown, decimals: number, field = 'amount'): Amount {
  if (typeof value !== 'string') {
    throw new StrongroomError(
      'E_AMOUNT_NOT_STRING',
      `${field} must be a decimal string, not a JSON ${typeOf(value)}`,
      {
        details: { field },
        hints: ['send amounts as strings, e.g. "0.015", so no precision is lost'],
      },
    );
  }
  if (value.startsWith('-')) {
    throw new StrongroomError('E_AMOUNT_NEGATIVE', `${field} must not be negative`, { details: { field } });
  }
  const m = DECIMAL_RE.exec(value);
  if (!m || value.length > MAX_DIGITS + 1) {
    throw new StrongroomError('E_AMOUNT_INVALID', `${field} is not a plain decimal number`, {
      details: { field },
      hints: ['digits with an optional "." and fraction; no sign, exponent, spaces or leading zeros'],
    });
  }
  const whole = m[1]!;
  const frac = m[2] ?? '';
  if (frac.length > decimals) {
    throw new StrongroomError(
      'E_AMOUNT_TOO_PRECISE',
      `${field} has ${frac.length} decimals; the asset has ${decimals}`,
      {
        details: { field, decimals },
      },
    );
  }
  const units = BigInt(whole + frac.padEnd(decimals, '0'));
  if (units.toString().length > MAX_DIGITS) {
    throw new StrongroomError('E_AMOUNT_INVALID', `${field} is too large`, { details: { field } });
  }
  return units;
}

/** Parses a decimal string of base units ("150000000"). */
export function parseBaseUnits(value: unknown, field = 'amount'): Amount {
  return parseAmount(value, 0, field);
}

/** Formats base units as a decimal string in asset units, without trailing zeros. */
export function formatAmount(units: Amount, decimals: number): string {
  const neg = units < 0n;
  const s = (neg ? -units : units).toString().padStart(decimals + 1, '0');
  const whole = s.slice(0, s.length - decimals);
  const frac = s.slice(s.length - decimals).replace(/0+$/, '');
  return (neg ? '-' : '') + whole + (frac ? '.' + frac : '');
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}
