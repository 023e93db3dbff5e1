import { describe, expect, it } from 'vitest';
import { toHex } from '../bytes.ts';
import {
  checkShareFile,
  decryptShareFile,
  encryptShareFile,
  parseShareFile,
  serializeShareFile,
  unsealKeyFingerprint,
  withMasterKeys,
  type ShareFile,
} from './share-file.ts';

const masterKeys = {
  keyId: '00112233445566778899aabbccddeeff',
  current: 1,
  keys: [{ version: 1, sealed: 'A'.repeat(80) }],
};
const share = new Uint8Array(33).map((_, i) => i + 1);

async function make(overrides: Partial<Parameters<typeof encryptShareFile>[0]> = {}): Promise<ShareFile> {
  return encryptShareFile({
    tenant: 'ten_a',
    custodian: 'alice',
    index: 1,
    threshold: 2,
    total: 3,
    epoch: 1,
    fingerprint: '0123456789abcdef',
    share,
    passphrase: 'correct horse battery',
    masterKeys,
    scrypt: { N: 1024 },
    ...overrides,
  });
}

describe('share file', () => {
  it('round-trips the share with the right passphrase (string or bytes)', async () => {
    const file = await make();
    expect(await decryptShareFile(file, 'correct horse battery')).toEqual(share);
    expect(await decryptShareFile(file, new TextEncoder().encode('correct horse battery'))).toEqual(share);
    expect(file).toMatchObject({
      format: 'strongroom-share',
      version: 1,
      tenant: 'ten_a',
      custodian: 'alice',
      index: 1,
      kdf: { name: 'scrypt', N: 1024, r: 8, p: 1 },
    });
  });

  it('uses N = 2^15 unless told otherwise', async () => {
    const { scrypt: _, ...params } = {
      scrypt: 0,
      tenant: 'ten_a',
      custodian: 'bob',
      index: 2,
      threshold: 2,
      total: 3,
      epoch: 1,
      fingerprint: '0123456789abcdef',
      share,
      passphrase: 'correct horse battery',
      masterKeys,
    };
    const file = await encryptShareFile(params);
    expect(file.kdf.N).toBe(32768);
  });

  it('names the custodian on a wrong passphrase', async () => {
    const file = await make();
    await expect(decryptShareFile(file, 'wrong horse battery')).rejects.toMatchObject({
      code: 'E_PASSPHRASE_WRONG',
      details: { custodian: 'alice', index: 1 },
    });
  });

  it('detects an edited header or ciphertext as E_SHARE_INVALID (passphrase right)', async () => {
    const file = await make();
    const ct = Buffer.from(file.ciphertext, 'base64');
    ct[0]! ^= 1;
    for (const edited of [
      { ...file, index: 2 },
      { ...file, epoch: 2 },
      { ...file, tenant: 'ten_b' },
      { ...file, ciphertext: ct.toString('base64') },
    ]) {
      await expect(decryptShareFile(edited, 'correct horse battery')).rejects.toMatchObject({
        code: 'E_SHARE_INVALID',
      });
    }
  });

  it('serialises only ciphertext: no share bytes, no passphrase', async () => {
    const file = await make();
    const text = serializeShareFile(file);
    expect(text).not.toContain('correct horse');
    expect(text).not.toContain(toHex(share));
    expect(text).not.toContain(Buffer.from(share).toString('base64'));
    expect(parseShareFile(text)).toEqual(file);
    expect(parseShareFile(new TextEncoder().encode(text))).toEqual(file);
  });

  it('refuses malformed files, unknown versions and weak or absurd kdf parameters', () => {
    const partial = { format: 'strongroom-share' } as unknown as ShareFile;
    expect(() => parseShareFile('not json')).toThrow(expect.objectContaining({ code: 'E_SHARE_INVALID' }));
    expect(() => checkShareFile(partial)).toThrow(expect.objectContaining({ code: 'E_SHARE_INVALID' }));
  });

  it.each([
    ['version', { version: 2 }],
    ['kdf.N too low', { kdf: { name: 'scrypt', N: 512, r: 8, p: 1, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' } }],
    [
      'kdf.N not a power of 2',
      { kdf: { name: 'scrypt', N: 3000, r: 8, p: 1, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' } },
    ],
    ['kdf.N too high', { kdf: { name: 'scrypt', N: 2 ** 22, r: 8, p: 1, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' } }],
    ['index > total', { index: 4 }],
    ['threshold > total', { threshold: 4 }],
    ['fingerprint', { fingerprint: 'xyz' }],
    ['masterKeys', { masterKeys: { keyId: 'nope', current: 1, keys: [] } }],
  ])('refuses %s', async (_name, change) => {
    const file = { ...(await make()), ...change } as ShareFile;
    expect(() => checkShareFile(file)).toThrow(expect.objectContaining({ code: 'E_SHARE_INVALID' }));
  });

  it('refuses short passphrases at creation', async () => {
    await expect(make({ passphrase: 'short' })).rejects.toMatchObject({
      code: 'E_VALIDATION',
      details: { parameter: 'passphrase' },
    });
  });

  it('swaps the keyring without the passphrase, leaving the share decryptable', async () => {
    const file = await make();
    const next = {
      ...masterKeys,
      current: 2,
      keys: [...masterKeys.keys, { version: 2, sealed: 'B'.repeat(80) }],
    };
    const refreshed = withMasterKeys(file, next);
    expect(refreshed.masterKeys).toEqual(next);
    expect(await decryptShareFile(refreshed, 'correct horse battery')).toEqual(share);
  });

  it('fingerprints depend on key, tenant and epoch', () => {
    const k = new Uint8Array(32).fill(1);
    const f = unsealKeyFingerprint(k, 'ten_a', 1);
    expect(f).toMatch(/^[0-9a-f]{16}$/);
    expect(unsealKeyFingerprint(k, 'ten_a', 2)).not.toBe(f);
    expect(unsealKeyFingerprint(k, 'ten_b', 1)).not.toBe(f);
    expect(unsealKeyFingerprint(new Uint8Array(32).fill(2), 'ten_a', 1)).not.toBe(f);
  });
});
