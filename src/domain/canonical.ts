import { createHash } from 'node:crypto';
import canonicalizeImpl from 'canonicalize';
import { StrongroomError } from './errors.ts';

/** RFC 8785 (JCS) canonical JSON text of a value. Everything hashed or signed goes through here. */
export function canonicalize(value: unknown): string {
  const text = (canonicalizeImpl as unknown as (v: unknown) => string | undefined)(value);
  if (text === undefined) throw new StrongroomError('E_VALIDATION', 'value cannot be canonicalized');
  return text;
}

export type Digest = `sha256:${string}`;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `sha256:<hex>` over the canonical bytes of `value`. */
export function digestOf(value: unknown): Digest {
  return `sha256:${sha256Hex(canonicalize(value))}`;
}

export function digestOfBytes(data: string | Uint8Array): Digest {
  return `sha256:${sha256Hex(data)}`;
}
