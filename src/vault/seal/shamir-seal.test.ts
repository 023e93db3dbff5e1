import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { MemorySealStorage } from '../../../test/support/memory-seal-storage.ts';
import { fromHex, toBase64, toHex } from '../bytes.ts';
import {
  openCryptogram,
  parseCryptogramHeader,
  sealCryptogram,
  type CryptogramBinding,
} from '../cryptogram.ts';
import { FileSealStorage, type SealStorage } from './seal-storage.ts';
import { ShamirSeal, type Custodian, type PresentedShare, type ShareFile } from './shamir-seal.ts';
import { decryptShareFile, encryptShareFile, serializeShareFile } from './share-file.ts';

const TENANT = 'ten_01hzx4q3b7s9k2m5n8p0r6t1vw';
const FAST = { N: 1024 };
const UNSEAL_KEY = fromHex('11'.repeat(32));
const MASTER_KEY = fromHex('5eed'.repeat(16));
const SEED = fromHex('c0ffee'.repeat(10) + 'c0');
const binding: CryptogramBinding = {
  tenant: TENANT,
  objectId: 'wal_1',
  keyVersion: 0,
  purpose: 'wallet-seed',
};

const passphrase = (id: string): string => `${id} has a long passphrase`;
const custodiansOf = (ids: string[]): Custodian[] => ids.map((id) => ({ id, passphrase: passphrase(id) }));
const present = (files: ShareFile[], indices: number[]): PresentedShare[] =>
  indices.map((i) => ({ file: files[i]!, passphrase: passphrase(files[i]!.custodian) }));

/** Fixed keys (copies: the seal wipes what `random` returns) so tests can scan for them. */
function fixedRandom(): (n: number) => Uint8Array {
  const queue = [UNSEAL_KEY, MASTER_KEY];
  return () => queue.shift()!.slice();
}

async function ceremony(
  n: number,
  m: number,
  storage: SealStorage = new MemorySealStorage(),
  tenant = TENANT,
) {
  const ids = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace'].slice(0, n);
  const { seal, shareFiles } = await ShamirSeal.initialize({
    tenant,
    storage,
    custodians: custodiansOf(ids),
    threshold: m,
    random: fixedRandom(),
    scrypt: FAST,
  });
  // Callers that pass their own storage (a FileSealStorage) never use the memory-only snapshot().
  return { seal, files: shareFiles, storage: storage as MemorySealStorage };
}

/** A ceremony, unsealed once to make a cryptogram, then sealed again. */
async function withCryptogram(n = 3, m = 2) {
  const c = await ceremony(n, m);
  await c.seal.unseal(present(c.files, range(m)));
  const cryptogram = await sealCryptogram(c.seal, { ...binding, tenant: c.seal.tenant }, SEED);
  await c.seal.seal();
  return { ...c, cryptogram };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function combinations(n: number, k: number): number[][] {
  if (k === 0) return [[]];
  if (n < k) return [];
  return [...combinations(n - 1, k - 1).map((c) => [...c, n - 1]), ...combinations(n - 1, k)];
}

async function expectUnchanged(
  storage: MemorySealStorage,
  seal: ShamirSeal,
  state: string,
  fn: () => Promise<unknown>,
  code: string,
) {
  const before = storage.snapshot();
  await expect(fn()).rejects.toMatchObject({ code });
  expect(seal.state()).toBe(state);
  expect(storage.snapshot()).toEqual(before);
}

describe('ShamirSeal ceremony and unseal', () => {
  it('initializes sealed, with one share file per custodian', async () => {
    const { seal, files, storage } = await ceremony(3, 2);
    expect(seal.state()).toBe('sealed');
    expect(files.map((f) => [f.custodian, f.index, f.threshold, f.total, f.epoch])).toEqual([
      ['alice', 1, 2, 3, 1],
      ['bob', 2, 2, 3, 1],
      ['carol', 3, 2, 3, 1],
    ]);
    expect(seal.current()).toEqual({ id: expect.stringMatching(/^[0-9a-f]{32}$/), version: 1 });
    expect(seal.status()).toMatchObject({
      state: 'sealed',
      threshold: 2,
      total: 3,
      epoch: 1,
      custodians: ['alice', 'bob', 'carol'],
      shareFilesCurrent: true,
    });
    const reopened = await ShamirSeal.open({ tenant: TENANT, storage });
    expect(reopened.state()).toBe('sealed');
    expect(reopened.current()).toEqual(seal.current());
  });

  it('refuses a second initialize', async () => {
    const { storage } = await ceremony(3, 2);
    const before = storage.snapshot();
    await expect(
      ShamirSeal.initialize({
        tenant: TENANT,
        storage,
        custodians: custodiansOf(['x1', 'x2']),
        threshold: 2,
        scrypt: FAST,
      }),
    ).rejects.toMatchObject({
      code: 'E_VAULT_ALREADY_INITIALIZED',
    });
    expect(storage.snapshot()).toEqual(before);
  });

  it('opens an empty tenant as uninitialized; key operations say so', async () => {
    const seal = await ShamirSeal.open({ tenant: TENANT, storage: new MemorySealStorage() });
    expect(seal.state()).toBe('uninitialized');
    expect(() => seal.current()).toThrow(expect.objectContaining({ code: 'E_VAULT_UNINITIALIZED' }));
    await expect(seal.encrypt(SEED, new Uint8Array())).rejects.toMatchObject({
      code: 'E_VAULT_UNINITIALIZED',
    });
    await expect(seal.unseal([])).rejects.toMatchObject({ code: 'E_VAULT_UNINITIALIZED' });
    await expect(seal.zeroize()).rejects.toMatchObject({ code: 'E_VAULT_UNINITIALIZED' });
  });

  it.each([
    [3, 2],
    [5, 3],
  ])('every combination of M shares unseals (N=%i, M=%i)', async (n, m) => {
    const { files, storage, cryptogram } = await withCryptogram(n, m);
    for (const combo of [...combinations(n, m), range(n)]) {
      const seal = await ShamirSeal.open({ tenant: TENANT, storage });
      await seal.unseal(present(files, combo.reverse()));
      expect(seal.state()).toBe('unsealed');
      expect(toHex(await openCryptogram(seal, binding, cryptogram))).toBe(toHex(SEED));
    }
  });

  it('accepts share files as JSON text or bytes, and is a no-op when already unsealed', async () => {
    const { seal, files } = await ceremony(3, 2);
    await seal.unseal([
      { file: serializeShareFile(files[0]!), passphrase: passphrase('alice') },
      {
        file: new TextEncoder().encode(serializeShareFile(files[1]!)),
        passphrase: new TextEncoder().encode(passphrase('bob')),
      },
    ]);
    expect(seal.state()).toBe('unsealed');
    await seal.unseal([]);
    expect(seal.state()).toBe('unsealed');
  });

  it('M-1 shares: E_SHARES_INSUFFICIENT, nothing changes', async () => {
    const { seal, files, storage } = await ceremony(5, 3);
    await expectUnchanged(
      storage as MemorySealStorage,
      seal,
      'sealed',
      () => seal.unseal(present(files, [0, 4])),
      'E_SHARES_INSUFFICIENT',
    );
    await expectUnchanged(
      storage as MemorySealStorage,
      seal,
      'sealed',
      () => seal.unseal([]),
      'E_SHARES_INSUFFICIENT',
    );
  });

  it('a duplicated share: E_SHARE_DUPLICATE, even relabelled under another index', async () => {
    const { seal, files, storage } = await ceremony(3, 2);
    const mem = storage as MemorySealStorage;
    await expectUnchanged(
      mem,
      seal,
      'sealed',
      () => seal.unseal(present(files, [1, 1])),
      'E_SHARE_DUPLICATE',
    );
    // A custodian who copies alice's share into a file of their own (index 2): caught by the share's x-coordinate.
    const aliceShare = await decryptShareFile(files[0]!, passphrase('alice'));
    const copy = await encryptShareFile({
      ...files[1]!,
      share: aliceShare,
      passphrase: passphrase('bob'),
      scrypt: FAST,
    });
    await expectUnchanged(
      mem,
      seal,
      'sealed',
      () => seal.unseal([...present(files, [0]), { file: copy, passphrase: passphrase('bob') }]),
      'E_SHARE_DUPLICATE',
    );
  });

  it('a corrupted share: E_SHARE_INVALID, nothing changes', async () => {
    const { seal, files, storage } = await ceremony(3, 2);
    const mem = storage as MemorySealStorage;
    // Bytes of the file flipped: the passphrase check passes, the GCM tag does not.
    const ct = Buffer.from(files[1]!.ciphertext, 'base64');
    ct[3]! ^= 0x40;
    const flipped = { ...files[1]!, ciphertext: ct.toString('base64') };
    await expectUnchanged(
      mem,
      seal,
      'sealed',
      () => seal.unseal([...present(files, [0]), { file: flipped, passphrase: passphrase('bob') }]),
      'E_SHARE_INVALID',
    );
    // A share altered before encryption (a custodian's tool bug): combines to garbage, caught by the fingerprint.
    const bobShare = await decryptShareFile(files[1]!, passphrase('bob'));
    bobShare[0]! ^= 1;
    const bad = await encryptShareFile({
      ...files[1]!,
      share: bobShare,
      passphrase: passphrase('bob'),
      scrypt: FAST,
    });
    await expectUnchanged(
      mem,
      seal,
      'sealed',
      () => seal.unseal([...present(files, [0]), { file: bad, passphrase: passphrase('bob') }]),
      'E_SHARE_INVALID',
    );
  });

  it('a wrong passphrase: E_PASSPHRASE_WRONG naming the custodian, nothing changes', async () => {
    const { seal, files, storage } = await ceremony(3, 2);
    const before = (storage as MemorySealStorage).snapshot();
    const err = await seal
      .unseal([...present(files, [0]), { file: files[2]!, passphrase: 'not carol passphrase' }])
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_PASSPHRASE_WRONG', details: { custodian: 'carol' } });
    expect((err as Error).message).toContain('carol');
    expect(seal.state()).toBe('sealed');
    expect((storage as MemorySealStorage).snapshot()).toEqual(before);
  });

  it('a share from another tenant: E_SHARE_INVALID', async () => {
    const { seal, files, storage } = await ceremony(3, 2);
    const other = await ceremony(3, 2, new MemorySealStorage(), 'ten_other');
    await expectUnchanged(
      storage as MemorySealStorage,
      seal,
      'sealed',
      () => seal.unseal([...present(files, [0]), ...present(other.files, [1])]),
      'E_SHARE_INVALID',
    );
  });

  it('a share file from another ceremony of the same tenant: E_SHARE_INVALID', async () => {
    const { seal, files, storage } = await ceremony(3, 2);
    const { shareFiles: foreign } = await ShamirSeal.initialize({
      tenant: TENANT,
      storage: new MemorySealStorage(),
      custodians: custodiansOf(['alice', 'bob', 'carol']),
      threshold: 2,
      scrypt: FAST,
    });
    await expectUnchanged(
      storage as MemorySealStorage,
      seal,
      'sealed',
      () => seal.unseal([...present(files, [0]), ...present(foreign, [1])]),
      'E_SHARE_INVALID',
    );
  });

  it('detects an edited seal record (MAC under the unseal key)', async () => {
    const { files, storage } = await ceremony(3, 2);
    const mem = storage as MemorySealStorage;
    const key = `${TENANT}/shamir-seal.json`;
    const record = JSON.parse(Buffer.from(mem.blobs.get(key)!).toString());
    record.coverage = [1, 1, 1];
    record.custodians = ['mallory', 'bob', 'carol'];
    mem.blobs.set(key, new TextEncoder().encode(JSON.stringify(record)));
    const seal = await ShamirSeal.open({ tenant: TENANT, storage });
    await expect(seal.unseal(present(files, [0, 1]))).rejects.toMatchObject({
      code: 'E_KEY_MATERIAL_INVALID',
    });
    expect(seal.state()).toBe('sealed');
  });

  it('checkQuorum accepts a valid quorum and refuses a bad one, changing nothing', async () => {
    const { seal, files, storage } = await ceremony(3, 2);
    const before = (storage as MemorySealStorage).snapshot();
    await seal.checkQuorum(present(files, [0, 2]));
    await expect(seal.checkQuorum(present(files, [0]))).rejects.toMatchObject({
      code: 'E_SHARES_INSUFFICIENT',
    });
    expect(seal.state()).toBe('sealed');
    expect((storage as MemorySealStorage).snapshot()).toEqual(before);
  });
});

describe('ShamirSeal states', () => {
  it('sealed: every key operation fails with E_VAULT_SEALED', async () => {
    const { seal, files, cryptogram } = await withCryptogram();
    const ref = seal.current();
    await expect(seal.encrypt(SEED, new Uint8Array())).rejects.toMatchObject({ code: 'E_VAULT_SEALED' });
    await expect(seal.decrypt(cryptogram.subarray(22), new Uint8Array(), ref)).rejects.toMatchObject({
      code: 'E_VAULT_SEALED',
    });
    await expect(sealCryptogram(seal, binding, SEED)).rejects.toMatchObject({ code: 'E_VAULT_SEALED' });
    await expect(openCryptogram(seal, binding, cryptogram)).rejects.toMatchObject({ code: 'E_VAULT_SEALED' });
    await expect(seal.rotate()).rejects.toMatchObject({ code: 'E_VAULT_SEALED' });
    await expect(seal.retire({ ...ref, version: 2 })).rejects.toMatchObject({ code: 'E_VAULT_SEALED' });
    await expect(seal.refreshShareFiles(files)).rejects.toMatchObject({ code: 'E_VAULT_SEALED' });
    await seal.seal(); // idempotent
    expect(seal.state()).toBe('sealed');
  });

  it('seal after unseal drops the keys', async () => {
    const { seal, files, cryptogram } = await withCryptogram();
    await seal.unseal(present(files, [1, 2]));
    await openCryptogram(seal, binding, cryptogram);
    await seal.seal();
    expect(seal.state()).toBe('sealed');
    await expect(openCryptogram(seal, binding, cryptogram)).rejects.toMatchObject({ code: 'E_VAULT_SEALED' });
  });

  it('zeroize: every key operation fails with E_VAULT_ZEROIZED; restore brings back the same master key', async () => {
    const { seal, files, storage, cryptogram } = await withCryptogram(5, 3);
    await seal.unseal(present(files, [0, 1, 2]));
    await seal.zeroize();
    expect(seal.state()).toBe('zeroized');
    expect([...(storage as MemorySealStorage).blobs.keys()]).toEqual([`${TENANT}/shamir-seal.json`]);
    await expect(openCryptogram(seal, binding, cryptogram)).rejects.toMatchObject({
      code: 'E_VAULT_ZEROIZED',
    });
    await expect(sealCryptogram(seal, binding, SEED)).rejects.toMatchObject({ code: 'E_VAULT_ZEROIZED' });
    await expect(seal.rotate()).rejects.toMatchObject({ code: 'E_VAULT_ZEROIZED' });
    await expect(seal.unseal(present(files, [0, 1, 2]))).rejects.toMatchObject({ code: 'E_VAULT_ZEROIZED' });
    await expect(seal.rekey(present(files, [0, 1, 2]), custodiansOf(['x1', 'x2']), 2)).rejects.toMatchObject({
      code: 'E_VAULT_ZEROIZED',
    });
    await seal.zeroize(); // idempotent

    const reopened = await ShamirSeal.open({ tenant: TENANT, storage });
    expect(reopened.state()).toBe('zeroized');
    await expect(reopened.restore(present(files, [0, 1]))).rejects.toMatchObject({
      code: 'E_SHARES_INSUFFICIENT',
    });
    expect(reopened.state()).toBe('zeroized');
    await reopened.restore(present(files, [4, 2, 3]));
    expect(reopened.state()).toBe('unsealed');
    expect(toHex(await openCryptogram(reopened, binding, cryptogram))).toBe(toHex(SEED));
    // And it unseals normally afterwards with any quorum.
    await reopened.seal();
    await reopened.unseal(present(files, [0, 1, 4]));
    expect(toHex(await openCryptogram(reopened, binding, cryptogram))).toBe(toHex(SEED));
  });

  it('zeroize works while sealed; restore is refused when not zeroized', async () => {
    const { seal, files } = await withCryptogram();
    await expect(seal.restore(present(files, [0, 1]))).rejects.toMatchObject({ code: 'E_CONFLICT' });
    await seal.zeroize();
    expect(seal.state()).toBe('zeroized');
  });
});

describe('ShamirSeal rekey', () => {
  it('re-shares to new custodians: old shares refused, new shares unseal, cryptograms and keyring unchanged', async () => {
    const { seal, files, storage, cryptogram } = await withCryptogram(3, 2);
    const mem = storage as MemorySealStorage;
    const keyringBefore = mem.snapshot().get(`${TENANT}/shamir-keyring.json`);
    const newFiles = await seal.rekey(
      present(files, [0, 2]),
      custodiansOf(['dave', 'erin', 'frank', 'grace']),
      3,
      { scrypt: FAST },
    );
    expect(seal.state()).toBe('sealed');
    expect(newFiles.map((f) => [f.custodian, f.index, f.threshold, f.total, f.epoch])).toEqual([
      ['dave', 1, 3, 4, 2],
      ['erin', 2, 3, 4, 2],
      ['frank', 3, 3, 4, 2],
      ['grace', 4, 3, 4, 2],
    ]);
    expect(mem.snapshot().get(`${TENANT}/shamir-keyring.json`)).toBe(keyringBefore);
    expect(seal.status()).toMatchObject({
      epoch: 2,
      threshold: 3,
      total: 4,
      custodians: ['dave', 'erin', 'frank', 'grace'],
    });

    await expect(seal.unseal(present(files, [0, 1]))).rejects.toMatchObject({
      code: 'E_SHARE_INVALID',
      details: { epoch: 1, expected: 2 },
    });
    await expect(seal.unseal([...present(files, [0]), ...present(newFiles, [0, 1])])).rejects.toMatchObject({
      code: 'E_SHARE_INVALID',
      details: { custodian: 'alice', epoch: 1 },
    });
    expect(seal.state()).toBe('sealed');
    await expect(seal.unseal(present(newFiles, [0, 3]))).rejects.toMatchObject({
      code: 'E_SHARES_INSUFFICIENT',
    });

    const reopened = await ShamirSeal.open({ tenant: TENANT, storage });
    await reopened.unseal(present(newFiles, [3, 1, 2]));
    expect(toHex(await openCryptogram(reopened, binding, cryptogram))).toBe(toHex(SEED));
    // The new files also restore after a zeroize.
    await reopened.zeroize();
    await reopened.restore(present(newFiles, [0, 1, 2]));
    expect(toHex(await openCryptogram(reopened, binding, cryptogram))).toBe(toHex(SEED));
  });

  it('refuses a rekey without a valid quorum, changing nothing', async () => {
    const { seal, files, storage } = await ceremony(3, 2);
    await expectUnchanged(
      storage as MemorySealStorage,
      seal,
      'sealed',
      () => seal.rekey(present(files, [0]), custodiansOf(['x1', 'x2']), 2, { scrypt: FAST }),
      'E_SHARES_INSUFFICIENT',
    );
    await expectUnchanged(
      storage as MemorySealStorage,
      seal,
      'sealed',
      () => seal.rekey(present(files, [0, 1]), custodiansOf(['x1', 'x2']), 3, { scrypt: FAST }),
      'E_VALIDATION',
    );
  });
});

describe('ShamirSeal rotate and retire', () => {
  it('rotates to a new version; old cryptograms open until retire', async () => {
    const { seal, files, cryptogram } = await withCryptogram();
    await seal.unseal(present(files, [0, 1]));
    const v1 = seal.current();
    const v2 = await seal.rotate();
    expect(v2).toEqual({ id: v1.id, version: 2 });
    expect(seal.current()).toEqual(v2);
    const newer = await sealCryptogram(seal, binding, SEED);
    expect(parseCryptogramHeader(newer).masterKey).toEqual(v2);
    expect(toHex(await openCryptogram(seal, binding, cryptogram))).toBe(toHex(SEED));

    // Both versions survive seal/unseal.
    await seal.seal();
    await seal.unseal(present(files, [1, 2]));
    expect(toHex(await openCryptogram(seal, binding, cryptogram))).toBe(toHex(SEED));
    expect(toHex(await openCryptogram(seal, binding, newer))).toBe(toHex(SEED));

    await expect(seal.retire(v2)).rejects.toMatchObject({ code: 'E_CONFLICT' });
    await seal.retire(v1);
    await seal.retire(v1); // idempotent
    expect(seal.status().versions).toEqual([2]);
    await expect(openCryptogram(seal, binding, cryptogram)).rejects.toMatchObject({
      code: 'E_CRYPTOGRAM_INVALID',
    });
    await expect(sealCryptogram(seal, binding, SEED, { ref: v1 })).rejects.toMatchObject({
      code: 'E_VALIDATION',
    });
    expect(toHex(await openCryptogram(seal, binding, newer))).toBe(toHex(SEED));

    // Retired for good: a zeroize + restore (whose share files still carry v1) does not bring it back.
    await seal.zeroize();
    await seal.restore(present(files, [0, 2]));
    expect(seal.status().versions).toEqual([2]);
    await expect(openCryptogram(seal, binding, cryptogram)).rejects.toMatchObject({
      code: 'E_CRYPTOGRAM_INVALID',
    });
    expect(toHex(await openCryptogram(seal, binding, newer))).toBe(toHex(SEED));
  });

  it('share files issued before a rotation still restore the newest key (recovery blob)', async () => {
    const { seal, files, storage } = await withCryptogram();
    await seal.unseal(present(files, [0, 1]));
    await seal.rotate();
    const newer = await sealCryptogram(seal, binding, SEED);
    expect(seal.status().shareFilesCurrent).toBe(false);
    await seal.zeroize();
    expect([...(storage as MemorySealStorage).blobs.keys()].sort()).toEqual([
      `${TENANT}/shamir-recovery.json`,
      `${TENANT}/shamir-seal.json`,
    ]);
    await seal.restore(present(files, [0, 2]));
    expect(toHex(await openCryptogram(seal, binding, newer))).toBe(toHex(SEED));
    expect([...(storage as MemorySealStorage).blobs.keys()].sort()).toEqual([
      `${TENANT}/shamir-keyring.json`,
      `${TENANT}/shamir-seal.json`,
    ]);
  });

  it('refreshed share files carry the new key, so a zeroize leaves no key material in storage', async () => {
    const { seal, files, storage, cryptogram } = await withCryptogram();
    await seal.unseal(present(files, [0, 1]));
    await seal.rotate();
    const newer = await sealCryptogram(seal, binding, SEED);
    const refreshed = await seal.refreshShareFiles(files);
    expect(seal.status().shareFilesCurrent).toBe(true);
    expect(refreshed.map((f) => f.masterKeys.current)).toEqual([2, 2, 2]);
    expect(refreshed.map((f) => f.ciphertext)).toEqual(files.map((f) => f.ciphertext));
    await seal.zeroize();
    expect([...(storage as MemorySealStorage).blobs.keys()]).toEqual([`${TENANT}/shamir-seal.json`]);
    // Old files alone no longer carry everything: refused clearly, nothing changes.
    await expectUnchanged(
      storage as MemorySealStorage,
      seal,
      'zeroized',
      () => seal.restore(present(files, [0, 1])),
      'E_KEY_MATERIAL_INVALID',
    );
    // One refreshed file in the quorum is enough.
    await seal.restore([...present(files, [0]), ...present(refreshed, [2])]);
    expect(toHex(await openCryptogram(seal, binding, newer))).toBe(toHex(SEED));
    expect(toHex(await openCryptogram(seal, binding, cryptogram))).toBe(toHex(SEED));
  });
});

describe('ShamirSeal secrecy', () => {
  const needles = (key: Uint8Array): string[] => [
    toHex(key),
    toHex(key).toUpperCase(),
    toBase64(key),
    Buffer.from(key).toString('latin1'),
  ];
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('no toJSON / inspect / String leaks, and errors carry no key material', async () => {
    const { seal, files } = await ceremony(3, 2);
    await seal.unseal(present(files, [0, 1]));
    const texts = [
      JSON.stringify(seal),
      inspect(seal, { showHidden: true, depth: 10 }),
      String(seal),
      JSON.stringify(seal.status()),
      Object.keys(seal).join(),
    ];
    const err = await seal
      .unseal([])
      .then(() => seal.retire(seal.current()))
      .catch((e: unknown) => e);
    texts.push(JSON.stringify(err), String(err), inspect(err, { depth: 10 }));
    for (const t of texts)
      for (const n of [...needles(UNSEAL_KEY), ...needles(MASTER_KEY)]) expect(t).not.toContain(n);
    expect(JSON.parse(JSON.stringify(seal))).toEqual({
      mechanism: 'shamir',
      tenant: TENANT,
      state: 'unsealed',
    });
  });

  it('neither storage files nor share files hold the unseal key, master key or a share in the clear', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shamir-seal-'));
    dirs.push(dir);
    const { seal, files } = await ceremony(3, 2, new FileSealStorage(dir));
    await seal.unseal(present(files, [0, 1]));
    await seal.rotate();
    const shares = await Promise.all(files.map((f) => decryptShareFile(f, passphrase(f.custodian))));
    const blobs = [
      ...readdirSync(join(dir, TENANT)).map((f) => readFileSync(join(dir, TENANT, f), 'latin1')),
      ...files.map(serializeShareFile),
    ];
    for (const blob of blobs) {
      for (const n of [...needles(UNSEAL_KEY), ...needles(MASTER_KEY), ...shares.flatMap(needles)])
        expect(blob).not.toContain(n);
    }
  });
});
