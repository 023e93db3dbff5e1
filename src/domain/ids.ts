import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/**
 * Time-sortable identifiers (ULID layout: 48-bit milliseconds + 80 random bits) behind a short prefix that
 * names the kind: `usr_`, `grp_`, `req_`, `ten_`.
 */
export function newId(prefix: string, now: number = Date.now()): string {
  let out = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  const r = randomBytes(10);
  let bits = 0;
  let acc = 0;
  for (const b of r) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31]!;
    }
  }
  return `${prefix}_${out}`;
}

const ID_RE = /^[a-z]{2,4}_[0-9a-z]{26}$/;
export function isId(value: unknown, prefix?: string): value is string {
  return (
    typeof value === 'string' && ID_RE.test(value) && (prefix === undefined || value.startsWith(prefix + '_'))
  );
}
