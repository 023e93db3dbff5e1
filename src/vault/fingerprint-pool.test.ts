import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { FingerprintPool } from './fingerprint-pool.ts';
import { fingerprintHex } from './hd.ts';
import { fingerprintOfMasterKey } from './wallets.ts';

describe('FingerprintPool (worker threads)', () => {
  const pool = new FingerprintPool(2);
  afterAll(() => pool.close());

  it('computes the same fingerprints as the main thread, in order, and wipes the keys it was given', async () => {
    const n = 301;
    const keys = new Uint8Array(randomBytes(n * 32));
    const expected = Array.from({ length: n }, (_, i) => fingerprintOfMasterKey(keys.subarray(i * 32, i * 32 + 32)));
    const out = await pool.fingerprints(keys);
    expect(Array.from(out.fingerprints, fingerprintHex)).toEqual(expected);
    expect(out.invalid).toEqual([]);
    expect(keys.every((b) => b === 0)).toBe(true);
  });

  it('reports keys that are not valid private keys by index', async () => {
    const keys = new Uint8Array(randomBytes(5 * 32));
    keys.fill(0, 64, 96); // zero
    keys.fill(0xff, 128, 160); // >= n
    const out = await pool.fingerprints(keys);
    expect(out.invalid).toEqual([2, 4]);
  });

  it('refuses malformed input with E_VALIDATION, and every call after close', async () => {
    await expect(pool.fingerprints(new Uint8Array(33))).rejects.toMatchObject({ code: 'E_VALIDATION' });
    const other = new FingerprintPool(1);
    await other.close();
    await expect(other.fingerprints(new Uint8Array(randomBytes(32)))).rejects.toMatchObject({ code: 'E_INTERNAL' });
  });
});
