/**
 * Byte helpers for key material inside the vault. Secrets are `Uint8Array`s (never strings, `Buffer`s or
 * bigints) so they can be wiped; hex/base64 decoding returns a fresh `Uint8Array` the caller owns.
 */
import { timingSafeEqual } from 'node:crypto';
import { base64, hex } from '@scure/base';
import { StrongroomError } from '../domain/errors.ts';

/** Overwrites every array with zeros. `undefined` entries are skipped so callers can wipe in `finally`. */
export function wipe(...arrays: (Uint8Array | null | undefined)[]): void {
  for (const a of arrays) a?.fill(0);
}

/**
 * Constant-time equality for arrays of the same length (the length itself is not secret: every value
 * compared here has a public, fixed size).
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (a.length === 0) return true;
  return timingSafeEqual(a, b);
}

/** Concatenates arrays into a new one. */
export function concatBytes(...arrays: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const a of arrays) length += a.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return out;
}

/** Lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  // A Buffer view (no copy) for node's native encoder: this runs on the unwrap hot path.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Strict hex (even length, 0-9a-f, either case); a bad value fails with `E_VALIDATION` naming `parameter`. */
export function fromHex(text: string, parameter = 'hex'): Uint8Array {
  try {
    if (typeof text !== 'string') throw new TypeError('not a string');
    return hex.decode(text.toLowerCase());
  } catch (cause) {
    throw new StrongroomError('E_VALIDATION', `${parameter} must be an even-length hex string`, {
      details: { parameter },
      cause,
    });
  }
}

/** RFC 4648 base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  return base64.encode(bytes);
}

/** Strict RFC 4648 base64 (padded, no whitespace); a bad value fails with `E_VALIDATION` naming `parameter`. */
export function fromBase64(text: string, parameter = 'base64'): Uint8Array {
  try {
    if (typeof text !== 'string') throw new TypeError('not a string');
    return base64.decode(text);
  } catch (cause) {
    throw new StrongroomError('E_VALIDATION', `${parameter} must be padded base64`, {
      details: { parameter },
      cause,
    });
  }
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a (non-secret) string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}
