import { createCipheriv, randomFillSync } from 'node:crypto';
import { StrongroomError } from '../../../domain/errors.ts';
import { equalBytes, wipe } from '../../bytes.ts';

/**
 * Key components for the IBM-style ceremony: each custodian brings a random 32-byte component; the master
 * key is their XOR, so no custodian alone knows anything about it. Every custodian checks their own
 * component's key check value (KCV) and, after import, the combined key's KCV.
 */
export const KEY_COMPONENT_BYTES = 32;
/** Minimum number of components: with one, a single person would hold the whole key. */
export const MIN_KEY_COMPONENTS = 2;

/** A fresh random component from node's CSPRNG (OpenSSL). The caller owns and wipes it. */
export function generateKeyComponent(): Uint8Array {
  return randomFillSync(new Uint8Array(KEY_COMPONENT_BYTES));
}

/**
 * Key check value: the first 3 bytes of AES-256-ECB of an all-zero block, hex upper-case (the usual
 * banking convention, so a custodian can check it with any tool). Reveals nothing usable about the key.
 */
export function keyCheckValue(key: Uint8Array): string {
  assertKeyBytes(key, 'key');
  const cipher = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  const block = cipher.update(new Uint8Array(16));
  cipher.final();
  return kcvFromZeroBlock(block);
}

/** The KCV from an AES encryption of the zero block (shared with the in-token computation). */
export function kcvFromZeroBlock(block: Uint8Array): string {
  return Buffer.from(block.subarray(0, 3)).toString('hex').toUpperCase();
}

/**
 * XOR of the components, validated: at least two, each 32 bytes, no duplicates (two equal components
 * cancel out), none and their combination not all zero. The caller wipes the result as soon as it is
 * imported.
 */
export function combineKeyComponents(components: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(components) || components.length < MIN_KEY_COMPONENTS) {
    throw new StrongroomError(
      'E_KEY_MATERIAL_INVALID',
      `at least ${MIN_KEY_COMPONENTS} key components are required`,
      {
        details: { parameter: 'components', count: Array.isArray(components) ? components.length : 0 },
      },
    );
  }
  components.forEach((c, i) => assertKeyBytes(c, `components[${i}]`));
  for (let i = 0; i < components.length; i++) {
    if (isAllZero(components[i]!)) {
      throw new StrongroomError('E_KEY_MATERIAL_INVALID', 'a key component is all zero', {
        details: { parameter: `components[${i}]` },
      });
    }
    for (let j = 0; j < i; j++) {
      if (equalBytes(components[i]!, components[j]!)) {
        throw new StrongroomError(
          'E_KEY_MATERIAL_INVALID',
          'two key components are equal and would cancel out',
          {
            details: { parameter: `components[${i}]`, duplicateOf: `components[${j}]` },
          },
        );
      }
    }
  }
  const key = new Uint8Array(KEY_COMPONENT_BYTES);
  for (const c of components) for (let k = 0; k < KEY_COMPONENT_BYTES; k++) key[k]! ^= c[k]!;
  if (isAllZero(key)) {
    wipe(key);
    throw new StrongroomError('E_KEY_MATERIAL_INVALID', 'the key components combine to an all-zero key', {
      details: { parameter: 'components' },
    });
  }
  return key;
}

function assertKeyBytes(value: unknown, parameter: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== KEY_COMPONENT_BYTES) {
    throw new StrongroomError(
      'E_KEY_MATERIAL_INVALID',
      `${parameter} must be a ${KEY_COMPONENT_BYTES}-byte Uint8Array`,
      {
        details: { parameter },
      },
    );
  }
}

function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}
