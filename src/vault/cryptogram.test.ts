import { createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../domain/canonical.ts';
import { FixedKeySeal } from '../../test/support/fixed-key-seal.ts';
import { fromHex, toHex } from './bytes.ts';
import {
  encodeCryptogramBinding,
  encodeBindingOnce,
  encodeCryptogramHeader,
  openCryptogram,
  openEncoded,
  sealEncoded,
  parseCryptogramHeader,
  sealCryptogram,
  type CryptogramBinding,
} from './cryptogram.ts';

interface Vector {
  masterKey: string;
  masterKeyRef: { id: string; version: number };
  nonce: string;
  binding: CryptogramBinding;
  plaintext: string;
  header: string;
  aad: string;
  cryptogram: string;
}

const vector = JSON.parse(readFileSync(new URL('../../test/vectors/cryptogram.json', import.meta.url), 'utf8')) as Vector;

function vectorSeal(nonce?: Uint8Array): FixedKeySeal {
  return new FixedKeySeal({ tenant: vector.binding.tenant, key: fromHex(vector.masterKey), ref: vector.masterKeyRef, ...(nonce ? { nonce } : {}) });
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

describe('cryptogram format (frozen vector)', () => {
  it('recomputes the vector exactly with an injected nonce', async () => {
    const bytes = await sealCryptogram(vectorSeal(fromHex(vector.nonce)), vector.binding, fromHex(vector.plaintext));
    expect(toHex(bytes)).toBe(vector.cryptogram);
  });

  it('pins header and associated data bytes', () => {
    expect(toHex(encodeCryptogramHeader(vector.masterKeyRef))).toBe(vector.header);
    const binding = toHex(encodeCryptogramBinding(vector.binding));
    expect(vector.header + binding).toBe(vector.aad);
    expect(Buffer.from(encodeCryptogramBinding(vector.binding)).toString()).toBe(canonicalize(vector.binding));
  });

  it('is plain AES-256-GCM: raw node:crypto opens the vector', () => {
    const bytes = fromHex(vector.cryptogram);
    const headerLength = vector.header.length / 2;
    const d = createDecipheriv('aes-256-gcm', fromHex(vector.masterKey), bytes.subarray(headerLength, headerLength + 12));
    d.setAAD(fromHex(vector.aad));
    d.setAuthTag(bytes.subarray(bytes.length - 16));
    const pt = Buffer.concat([d.update(bytes.subarray(headerLength + 12, bytes.length - 16)), d.final()]);
    expect(pt.toString('hex')).toBe(vector.plaintext);
  });

  it('opens the vector and parses its header', async () => {
    const bytes = fromHex(vector.cryptogram);
    expect(parseCryptogramHeader(bytes)).toEqual({ formatVersion: 1, masterKey: vector.masterKeyRef, length: vector.header.length / 2 });
    expect(toHex(await openCryptogram(vectorSeal(), vector.binding, bytes))).toBe(vector.plaintext);
  });
});

describe('cryptogram binding', () => {
  const seal = vectorSeal();
  const binding = vector.binding;
  const secret = fromHex(vector.plaintext);

  it('round-trips with a fresh nonce each time', async () => {
    const a = await sealCryptogram(seal, binding, secret);
    const b = await sealCryptogram(seal, binding, secret);
    expect(toHex(a)).not.toBe(toHex(b));
    expect(toHex(await openCryptogram(seal, binding, a))).toBe(vector.plaintext);
  });

  it.each([
    ['another tenant', { tenant: 'ten_other' }],
    ['another wallet', { objectId: 'wal_other' }],
    ['another key version', { keyVersion: 1 }],
    ['another purpose', { purpose: 'audit-key' }],
  ])('refuses a cryptogram moved to %s', async (_name, change) => {
    const c = await sealCryptogram(seal, binding, secret);
    await expectCode(openCryptogram(seal, { ...binding, ...change }, c), 'E_CRYPTOGRAM_INVALID');
  });

  it('ignores extra fields on the binding object', async () => {
    const c = await sealCryptogram(seal, binding, secret);
    const extended = { ...binding, note: 'x' } as CryptogramBinding;
    expect(toHex(await openCryptogram(seal, extended, c))).toBe(vector.plaintext);
  });

  it('refuses any edited byte, including the header', async () => {
    const c = fromHex(vector.cryptogram);
    for (let i = 1; i < c.length; i++) {
      const edited = c.slice();
      edited[i]! ^= 0x01;
      await expect(openCryptogram(seal, binding, edited), `byte ${i}`).rejects.toMatchObject({ code: 'E_CRYPTOGRAM_INVALID' });
    }
  });

  it('refuses unknown format versions with E_CRYPTOGRAM_VERSION', async () => {
    for (const v of [0, 2, 0x53, 0xff]) {
      const c = fromHex(vector.cryptogram);
      c[0] = v;
      await expectCode(openCryptogram(seal, binding, c), 'E_CRYPTOGRAM_VERSION');
      expect(() => parseCryptogramHeader(c)).toThrow(expect.objectContaining({ code: 'E_CRYPTOGRAM_VERSION' }));
    }
  });

  it('refuses truncated and malformed input', async () => {
    const c = fromHex(vector.cryptogram);
    for (const len of [0, 1, 2, 10, 21, 22, 33, 49]) {
      await expect(openCryptogram(seal, binding, c.subarray(0, len))).rejects.toMatchObject({ code: expect.stringMatching(/^E_CRYPTOGRAM_INVALID$/) });
    }
    await expectCode(openCryptogram(seal, binding, 'abc' as unknown as Uint8Array), 'E_VALIDATION');
  });

  it('validates the binding, naming the bad field', async () => {
    await expect(sealCryptogram(seal, { ...binding, tenant: '' }, secret)).rejects.toMatchObject({
      code: 'E_VALIDATION',
      details: { parameter: 'binding.tenant' },
    });
    await expect(sealCryptogram(seal, { ...binding, keyVersion: -1 }, secret)).rejects.toMatchObject({
      details: { parameter: 'binding.keyVersion' },
    });
    await expect(sealCryptogram(seal, { ...binding, keyVersion: 1.5 }, secret)).rejects.toMatchObject({ code: 'E_VALIDATION' });
  });

  it('encodes variable-length key ids (a PKCS#11 lineage id is 8 bytes)', () => {
    const h = encodeCryptogramHeader({ id: '0011223344556677', version: 0x01020304 });
    expect(toHex(h)).toBe('01080011223344556677' + '01020304');
    expect(parseCryptogramHeader(h).masterKey).toEqual({ id: '0011223344556677', version: 0x01020304 });
    expect(() => encodeCryptogramHeader({ id: 'ABC', version: 1 })).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
    expect(() => encodeCryptogramHeader({ id: '00', version: 0 })).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
  });
});

describe('cryptogram caches (header, associated data) never change what opens', () => {
  const seal = vectorSeal();
  const secret = fromHex(vector.plaintext);
  const base = vector.binding;

  it('fields that concatenate alike are different bindings, warm cache or not', async () => {
    const a = { ...base, tenant: 'ab', objectId: 'c1' };
    const b = { ...base, tenant: 'a', objectId: 'bc1' };
    const ca = await sealCryptogram(seal, a, secret);
    const cb = await sealCryptogram(seal, b, secret);
    for (let i = 0; i < 2; i++) {
      expect(toHex(await openCryptogram(seal, a, ca))).toBe(vector.plaintext);
      expect(toHex(await openCryptogram(seal, b, cb))).toBe(vector.plaintext);
      await expectCode(openCryptogram(seal, a, cb), 'E_CRYPTOGRAM_INVALID');
      await expectCode(openCryptogram(seal, b, ca), 'E_CRYPTOGRAM_INVALID');
    }
  });

  it('a warm entry is not reused for a binding of the wrong type', async () => {
    const c = await sealCryptogram(seal, base, secret);
    await openCryptogram(seal, base, c);
    await expectCode(openCryptogram(seal, { ...base, keyVersion: String(base.keyVersion) as unknown as number }, c), 'E_VALIDATION');
    await expectCode(openCryptogram(seal, { ...base, tenant: 42 as unknown as string }, c), 'E_VALIDATION');
  });

  it('a warm entry for one master key does not open a cryptogram whose header names another', async () => {
    const c = await sealCryptogram(seal, base, secret);
    await openCryptogram(seal, base, c);
    const other = c.slice();
    other[other.length - 16 - secret.length - 12 - 1]! ^= 1; // last byte of the header: the key version
    await expectCode(openCryptogram(seal, base, other), 'E_CRYPTOGRAM_INVALID');
    expect(toHex(await openCryptogram(seal, base, c))).toBe(vector.plaintext);
  });

  it('more bindings than the cache holds all open, and none opens another', async () => {
    const bindings = Array.from({ length: 5000 }, (_, i) => ({ ...base, objectId: `wal_${i}` }));
    const sealed = await Promise.all(bindings.map((b) => sealCryptogram(seal, b, secret)));
    for (let i = 0; i < bindings.length; i += 1) {
      expect(toHex(await openCryptogram(seal, bindings[i]!, sealed[i]!))).toBe(vector.plaintext);
    }
    await expectCode(openCryptogram(seal, bindings[0]!, sealed[4999]!), 'E_CRYPTOGRAM_INVALID');
  });

  it('encodeBindingOnce / sealEncoded / openEncoded are the same format', async () => {
    const encoded = encodeBindingOnce(base);
    const c = await sealEncoded(seal, encoded, secret);
    expect(toHex(await openCryptogram(seal, base, c))).toBe(vector.plaintext);
    expect(toHex(await openEncoded(seal, encoded, await sealCryptogram(seal, base, secret)))).toBe(vector.plaintext);
    await expectCode(openEncoded(seal, encodeBindingOnce({ ...base, objectId: 'wal_other' }), c), 'E_CRYPTOGRAM_INVALID');
    expect(() => encodeBindingOnce({ ...base, purpose: '' })).toThrow(expect.objectContaining({ code: 'E_VALIDATION' }));
  });
});
