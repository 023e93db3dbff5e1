/**
 * Software seal figures for `npm run bench -- vault` (bench/vault.ts includes them): cryptogram unwraps
 * and wraps per second through ShamirSeal, each beside raw node:crypto AES-256-GCM on the same sizes
 * measured in the same run (the raw figure is the ceiling: no envelope, no binding, no key lookup).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { MemorySealStorage } from '../test/support/memory-seal-storage.ts';
import {
  encodeCryptogramBinding,
  openCryptogram,
  parseCryptogramHeader,
  sealCryptogram,
  type CryptogramBinding,
} from '../src/vault/cryptogram.ts';
import { ShamirSeal } from '../src/vault/seal/shamir-seal.ts';
import { opsPerSecond, opsPerSecondAsync, type Figure } from './harness.ts';

const SEED_BYTES = 64; // a BIP39 seed
const N = 50_000;
const ROUNDS = 5;

export async function measureSealFigures(): Promise<Figure[]> {
  const tenant = 'ten_bench';
  const { seal, shareFiles } = await ShamirSeal.initialize({
    tenant,
    storage: new MemorySealStorage(),
    custodians: [
      { id: 'alice', passphrase: 'alice bench passphrase' },
      { id: 'bob', passphrase: 'bob bench passphrase' },
    ],
    threshold: 2,
    scrypt: { N: 1024 }, // unseal speed is not what is measured here
  });
  await seal.unseal(
    shareFiles.map((file, i) => ({
      file,
      passphrase: i === 0 ? 'alice bench passphrase' : 'bob bench passphrase',
    })),
  );

  const binding: CryptogramBinding = {
    tenant,
    objectId: 'wal_01hzx4q3b7s9k2m5n8p0r6t1vx',
    keyVersion: 0,
    purpose: 'wallet-seed',
  };
  const seed = new Uint8Array(randomBytes(SEED_BYTES));
  const cryptogram = await sealCryptogram(seal, binding, seed);

  // Baseline inputs of the same sizes: same plaintext, same AAD length, a raw 32-byte key.
  const header = parseCryptogramHeader(cryptogram);
  const aad = Buffer.concat([cryptogram.subarray(0, header.length), encodeCryptogramBinding(binding)]);
  const rawKey = randomBytes(32);
  const nonce = randomBytes(12);
  const rawCipher = createCipheriv('aes-256-gcm', rawKey, nonce);
  rawCipher.setAAD(aad);
  const rawCt = Buffer.concat([rawCipher.update(seed), rawCipher.final()]);
  const rawTag = rawCipher.getAuthTag();

  const rawDecrypt = (): void => {
    const d = createDecipheriv('aes-256-gcm', rawKey, nonce);
    d.setAAD(aad);
    d.setAuthTag(rawTag);
    d.update(rawCt).fill(0);
    d.final();
  };
  const rawEncrypt = (): void => {
    const c = createCipheriv('aes-256-gcm', rawKey, randomBytes(12));
    c.setAAD(aad);
    c.update(seed);
    c.final();
    c.getAuthTag();
  };

  // Warm up both paths before timing.
  for (let i = 0; i < 5_000; i++) {
    rawDecrypt();
    (await openCryptogram(seal, binding, cryptogram)).fill(0);
  }

  // Baseline and figure alternate round by round, so a change in machine load hits both alike.
  const [rawUnwraps, unwraps] = await interleaved(
    () => opsPerSecond(N, rawDecrypt),
    () => opsPerSecondAsync(N, async () => void (await openCryptogram(seal, binding, cryptogram)).fill(0)),
  );
  const [rawWraps, wraps] = await interleaved(
    () => opsPerSecond(N, rawEncrypt),
    () => opsPerSecondAsync(N, async () => void (await sealCryptogram(seal, binding, seed))),
  );
  await seal.seal();

  const baseline = (name: string, value: number) => ({ name, value, unit: 'ops/s' });
  return [
    {
      name: `cryptogram unwraps, ShamirSeal (${SEED_BYTES}-byte seed)`,
      value: unwraps,
      unit: 'ops/s',
      baseline: baseline('raw node:crypto AES-256-GCM decrypt, same sizes', rawUnwraps),
    },
    {
      name: `cryptogram wraps, ShamirSeal (${SEED_BYTES}-byte seed)`,
      value: wraps,
      unit: 'ops/s',
      baseline: baseline('raw node:crypto AES-256-GCM encrypt, same sizes', rawWraps),
    },
  ];
}

/** Medians of `ROUNDS` alternating runs of a baseline and a figure. */
async function interleaved(base: () => number, figure: () => Promise<number>): Promise<[number, number]> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    a.push(base());
    b.push(await figure());
  }
  const mid = (v: number[]): number => v.sort((x, y) => x - y)[Math.floor(v.length / 2)]!;
  return [mid(a), mid(b)];
}
