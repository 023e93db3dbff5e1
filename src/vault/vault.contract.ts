/**
 * THE vault conformance suite: every seal (Shamir, PKCS#11) in every placement (in-process, behind a
 * socket, in another process) must pass it unchanged. It speaks only the `Vault` interface; the factory
 * supplies the ceremony material (a kit) and the database, to look at what storage holds.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { checkpointBytes, verifyCheckpoint } from '../audit/checkpoint.ts';
import { StrongroomError, type ErrorCode } from '../domain/errors.ts';
import type { VaultUnderTest } from '../../test/support/vault-harness.ts';
import { openTestExport } from '../../test/support/export-reader.ts';
import type { Vault } from './vault.ts';

export const TEST_MNEMONIC =
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
/** BIP84/BIP86 test vectors' master fingerprint for TEST_MNEMONIC. */
export const TEST_MNEMONIC_FINGERPRINT = '73c5da0a';

async function failure(fn: () => Promise<unknown>): Promise<StrongroomError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StrongroomError);
    return e as StrongroomError;
  }
  throw new Error('expected a StrongroomError');
}

async function expectCode(fn: () => Promise<unknown>, code: ErrorCode): Promise<void> {
  expect((await failure(fn)).code).toBe(code);
}

/** SHA-256 over every cryptogram row of the vault tables (wallets and keys), in key order. */
export async function hashCryptograms(t: VaultUnderTest): Promise<string> {
  const db = t.database.database.db;
  const wallets = await sql<{
    tenant_id: string;
    wallet_id: string;
    key_version: number;
    cryptogram: Uint8Array;
  }>`
    select tenant_id, wallet_id, key_version, cryptogram from vault_wallets order by tenant_id, wallet_id`.execute(
    db,
  );
  const keys = await sql<{ tenant_id: string; purpose: string; cryptogram: Uint8Array }>`
    select tenant_id, purpose, cryptogram from vault_keys order by tenant_id, purpose`.execute(db);
  const h = createHash('sha256');
  for (const r of wallets.rows)
    h.update(`${r.tenant_id}/${r.wallet_id}/${r.key_version}/`).update(r.cryptogram);
  for (const r of keys.rows) h.update(`${r.tenant_id}/${r.purpose}/`).update(r.cryptogram);
  return h.digest('hex');
}

/** Every operation that needs the master key, each expected to fail with `code`. */
async function expectKeyOperationsRefused(t: VaultUnderTest, tenant: string, code: ErrorCode): Promise<void> {
  const v = t.vault;
  await expectCode(() => v.createWallet(tenant, { walletId: 'refused-1', tier: 'hot' }), code);
  await expectCode(
    () => v.importWallet(tenant, { walletId: 'refused-2', tier: 'hot', mnemonic: TEST_MNEMONIC }),
    code,
  );
  await expectCode(() => v.signAuditCheckpoint(tenant, new Uint8Array([1, 2, 3])), code);
  await expectCode(() => v.rotate(tenant, t.kit(tenant).rotate()), code);
  await expectCode(() => v.rewrap(tenant), code);
  const { publicKey } = generateKeyPairSync('x25519');
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  await expectCode(
    () => v.exportWallets(tenant, { recipientPublicKey: spki, quorum: t.kit(tenant).quorum() }),
    code,
  );
  expect(await t.storage.getWallet(tenant, 'refused-1')).toBeUndefined();
  expect(await t.storage.getWallet(tenant, 'refused-2')).toBeUndefined();
}

export function vaultContract(name: string, factory: () => Promise<VaultUnderTest>): void {
  describe(`Vault conformance: ${name}`, () => {
    let t: VaultUnderTest;
    let vault: Vault;
    const tenant = 'acme';

    async function initialized(which = tenant) {
      const r = await vault.initialize(which, { ...t.kit(which).init(), actor: 'key-ceremony' });
      t.kit(which).issued(r);
      return r;
    }

    beforeEach(async () => {
      t = await factory();
      vault = t.vault;
    });
    afterEach(async () => {
      await t.dispose();
    });

    it('starts uninitialized, refuses key operations, and a ceremony leaves it unsealed with an audit key', async () => {
      const before = await vault.status(tenant);
      expect(before).toMatchObject({
        tenant,
        state: 'uninitialized',
        masterKey: null,
        wallets: 0,
        rewrap: null,
      });
      await expectCode(
        () => vault.createWallet(tenant, { walletId: 'w1', tier: 'hot' }),
        'E_VAULT_UNINITIALIZED',
      );
      await expectCode(() => vault.seal(tenant), 'E_VAULT_UNINITIALIZED');
      const r = await initialized();
      expect(r.status).toMatchObject({
        state: 'unsealed',
        mechanism: t.mechanism,
        masterKey: { version: 1 },
      });
      expect(r.auditPublicKey.publicKey).toHaveLength(32);
      expect(await vault.auditPublicKey(tenant)).toEqual(r.auditPublicKey);
      if (t.mechanism === 'shamir') expect(r.shareFiles).toHaveLength(3);
      else expect(r.kcv).toMatch(/^[0-9A-F]{6}$/);
      await expectCode(() => vault.initialize(tenant, t.kit(tenant).init()), 'E_VAULT_ALREADY_INITIALIZED');
    });

    it('creates wallets that show only public keys, and imports the BIP39 test mnemonic', async () => {
      await initialized();
      const w = await vault.createWallet(tenant, { walletId: 'treasury-1', tier: 'warm', label: 'Treasury' });
      expect(w).toMatchObject({ walletId: 'treasury-1', tier: 'warm', label: 'Treasury', keyVersion: 1 });
      expect(w.fingerprint).toMatch(/^[0-9a-f]{8}$/);
      expect(w.xpubs.bip84).toMatch(/^tpub/);
      expect(JSON.stringify(w)).not.toMatch(/prv/);
      expect(await vault.wallet(tenant, 'treasury-1')).toEqual(w);
      await expectCode(
        () => vault.createWallet(tenant, { walletId: 'treasury-1', tier: 'hot' }),
        'E_CONFLICT',
      );
      await expectCode(
        () => vault.createWallet(tenant, { walletId: 'bad id!', tier: 'hot' }),
        'E_VALIDATION',
      );
      await expectCode(
        () => vault.createWallet(tenant, { walletId: 'x', tier: 'lukewarm' as never }),
        'E_VALIDATION',
      );

      const imported = await vault.importWallet(tenant, {
        walletId: 'byo',
        tier: 'cold',
        mnemonic: new TextEncoder().encode(TEST_MNEMONIC),
      });
      expect(imported.fingerprint).toBe(TEST_MNEMONIC_FINGERPRINT);
      const bad = TEST_MNEMONIC.replace(/about$/, 'abandon');
      const e = await failure(() =>
        vault.importWallet(tenant, { walletId: 'byo-2', tier: 'cold', mnemonic: bad }),
      );
      expect(e.code).toBe('E_KEY_MATERIAL_INVALID');
      expect(JSON.stringify(e)).not.toContain('abandon');
      expect(e.message).not.toContain('abandon');
      expect((await vault.status(tenant)).wallets).toBe(2);
    });

    it('a cryptogram moved to another wallet or tenant fails to open', async () => {
      await initialized();
      await initialized('globex');
      await vault.createWallet(tenant, { walletId: 'a', tier: 'hot' });
      await vault.createWallet(tenant, { walletId: 'b', tier: 'hot' });
      await vault.createWallet('globex', { walletId: 'a', tier: 'hot' });
      const db = t.database.database.db;
      // Copy wallet a's cryptogram onto wallet b (same tenant): the export, which opens every seed, refuses.
      await sql`update vault_wallets set cryptogram = (select cryptogram from vault_wallets where tenant_id = 'acme' and wallet_id = 'a') where tenant_id = 'acme' and wallet_id = 'b'`.execute(
        db,
      );
      const { publicKey } = generateKeyPairSync('x25519');
      const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
      await expectCode(
        () => vault.exportWallets(tenant, { recipientPublicKey: spki, quorum: t.kit(tenant).quorum() }),
        'E_CRYPTOGRAM_INVALID',
      );
      // Globex's wallet a under acme's name: another tenant's master key and binding.
      await sql`update vault_wallets set cryptogram = (select cryptogram from vault_wallets where tenant_id = 'globex' and wallet_id = 'a') where tenant_id = 'acme' and wallet_id = 'b'`.execute(
        db,
      );
      await expectCode(
        () => vault.exportWallets(tenant, { recipientPublicKey: spki, quorum: t.kit(tenant).quorum() }),
        'E_CRYPTOGRAM_INVALID',
      );
    });

    it('sealed: every key operation fails with E_VAULT_SEALED; a wrong quorum changes nothing; the quorum unseals', async () => {
      await initialized();
      const w = await vault.createWallet(tenant, { walletId: 'w1', tier: 'hot' });
      expect((await vault.seal(tenant, { actor: 'ops' })).state).toBe('sealed');
      expect((await vault.seal(tenant)).state).toBe('sealed'); // idempotent
      await expectKeyOperationsRefused(t, tenant, 'E_VAULT_SEALED');
      expect(await vault.wallet(tenant, 'w1')).toEqual(w); // public data stays readable
      const rows = await hashCryptograms(t);
      const bad = await failure(() => vault.unseal(tenant, t.kit(tenant).badUnseal()));
      expect(['E_SHARES_INSUFFICIENT', 'E_PIN_INCORRECT']).toContain(bad.code);
      expect((await vault.status(tenant)).state).toBe('sealed');
      expect(await hashCryptograms(t)).toBe(rows);
      expect((await vault.unseal(tenant, t.kit(tenant).unseal())).state).toBe('unsealed');
      await vault.createWallet(tenant, { walletId: 'w2', tier: 'hot' });
    });

    it('signs audit checkpoints that verify against the audit public key', async () => {
      await initialized();
      const cp = {
        tenant,
        seq: 7,
        headHash: `sha256:${'ab'.repeat(32)}` as const,
        at: '2025-01-31T12:00:00.000Z',
      };
      const signature = await vault.signAuditCheckpoint(tenant, checkpointBytes(cp));
      const { keyId, publicKey } = await vault.auditPublicKey(tenant);
      const signed = { ...cp, keyId, signature: Buffer.from(signature).toString('base64') };
      expect(verifyCheckpoint(signed, new Map([[keyId, publicKey]]))).toEqual({ ok: true });
      expect(verifyCheckpoint({ ...signed, seq: 8 }, new Map([[keyId, publicKey]])).ok).toBe(false);
    });

    it('audits every state change first; when the audit sink fails, the action does not happen', async () => {
      if (!t.audit) return; // the sink lives in another process
      t.audit.failNext = true;
      await expectCode(() => vault.initialize(tenant, t.kit(tenant).init()), 'E_AUDIT_WRITE_FAILED');
      expect((await vault.status(tenant)).state).toBe('uninitialized');
      await initialized();
      t.audit.failNext = true;
      await expectCode(
        () => vault.createWallet(tenant, { walletId: 'nope', tier: 'hot' }),
        'E_AUDIT_WRITE_FAILED',
      );
      expect(await t.storage.getWallet(tenant, 'nope')).toBeUndefined();
      t.audit.failNext = true;
      await expectCode(() => vault.seal(tenant), 'E_AUDIT_WRITE_FAILED');
      expect((await vault.status(tenant)).state).toBe('unsealed');
      t.audit.failNext = true;
      await expectCode(() => vault.zeroize(tenant), 'E_AUDIT_WRITE_FAILED');
      expect((await vault.status(tenant)).state).toBe('unsealed');
      await vault.seal(tenant, { actor: 'key-ops-1' });
      const actions = t.audit.entries.map((e) => e.action);
      expect(actions).toEqual(['vault.initialize', 'vault.seal']);
      expect(t.audit.entries[1]).toMatchObject({ tenant, actor: 'key-ops-1' });
      expect(t.audit.entries[1]!.payloadDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    });

    it('zeroized: key operations fail with E_VAULT_ZEROIZED; restore brings back exactly the same keys', async () => {
      const init = await initialized();
      const w = await vault.createWallet(tenant, { walletId: 'w1', tier: 'hot' });
      const byo = await vault.importWallet(tenant, { walletId: 'byo', tier: 'hot', mnemonic: TEST_MNEMONIC });
      expect((await vault.zeroize(tenant)).state).toBe('zeroized');
      await expectKeyOperationsRefused(t, tenant, 'E_VAULT_ZEROIZED');
      await expectCode(() => vault.unseal(tenant, t.kit(tenant).unseal()), 'E_VAULT_ZEROIZED');
      expect((await vault.restore(tenant, t.kit(tenant).restore())).state).toMatch(/unsealed|sealed/);
      if ((await vault.status(tenant)).state === 'sealed') await vault.unseal(tenant, t.kit(tenant).unseal());
      // The same keys: every seed opens again and re-derives its fingerprint (the export checks each one).
      const out = await exportTo(t, tenant, 'x25519');
      expect(out.wallets.map((x) => [x.walletId, x.fingerprint, x.xpubs.bip84])).toEqual([
        ['byo', byo.fingerprint, byo.xpubs.bip84],
        ['w1', w.fingerprint, w.xpubs.bip84],
      ]);
      const cp = {
        tenant,
        seq: 1,
        headHash: `sha256:${'00'.repeat(32)}` as const,
        at: '2025-01-31T12:00:00.000Z',
      };
      const sig = await vault.signAuditCheckpoint(tenant, checkpointBytes(cp));
      expect(
        verifyCheckpoint(
          { ...cp, keyId: init.auditPublicKey.keyId, signature: Buffer.from(sig).toString('base64') },
          new Map([[init.auditPublicKey.keyId, init.auditPublicKey.publicKey]]),
        ),
      ).toEqual({ ok: true });
    });

    it('rotate + rewrap re-encrypts every cryptogram, keeps every fingerprint, and retires the old key', async () => {
      await initialized();
      const wallets = [];
      for (let i = 0; i < 7; i++)
        wallets.push(await vault.createWallet(tenant, { walletId: `w${i}`, tier: 'hot' }));
      const oldRow = (await t.storage.getWallet(tenant, 'w0'))!;
      const rotated = await vault.rotate(tenant, t.kit(tenant).rotate());
      t.kit(tenant).issued(rotated);
      expect(rotated.masterKey.version).toBe(2);
      const progress: number[] = [];
      const r = await vault.rewrap(tenant, { batchSize: 3, onProgress: (p) => progress.push(p.done) });
      expect(r).toMatchObject({ fromVersion: 1, toVersion: 2, verified: 7, retired: true });
      expect(r.digestAfter).toBe(r.digestBefore);
      expect(progress).toEqual([3, 6, 7, 7]);
      for (const w of wallets) {
        const row = (await t.storage.getWallet(tenant, w.walletId))!;
        expect(row.keyVersion).toBe(2);
        expect(row.fingerprint).toBe(w.fingerprint);
        expect(row.xpubs).toEqual(w.xpubs);
      }
      expect((await t.storage.getKey(tenant, 'audit'))!.keyVersion).toBe(2);
      // The old key is gone: a cryptogram put back under version 1 no longer opens.
      const db = t.database.database.db;
      await sql`update vault_wallets set cryptogram = ${Buffer.from(oldRow.cryptogram)}, key_version = 1 where tenant_id = 'acme' and wallet_id = 'w0'`.execute(
        db,
      );
      await expectCode(() => exportTo(t, tenant, 'rsa'), 'E_CRYPTOGRAM_INVALID');
      const status = await vault.status(tenant);
      expect(status).toMatchObject({ masterKey: { version: 2 }, rewrap: null });
    });

    it('rekey re-shares the unseal key and changes no cryptogram (Shamir); PKCS#11 has no rekey', async () => {
      await initialized();
      for (let i = 0; i < 3; i++) await vault.createWallet(tenant, { walletId: `w${i}`, tier: 'hot' });
      const before = await hashCryptograms(t);
      if (t.mechanism !== 'shamir') {
        await expectCode(
          () => vault.rekey(tenant, { shares: [], custodians: [], threshold: 2 }),
          'E_BAD_REQUEST',
        );
        return;
      }
      const old = t.kit(tenant).unseal();
      const enc = (s: string) => new TextEncoder().encode(s);
      const r = await vault.rekey(tenant, {
        shares: (old as unknown as { shares: never[] }).shares,
        threshold: 2,
        custodians: [
          { name: 'dave', passphrase: enc('dave pass') },
          { name: 'erin', passphrase: enc('erin pass') },
        ],
      });
      expect(r.shareFiles).toHaveLength(2);
      expect(await hashCryptograms(t)).toBe(before);
      await vault.seal(tenant);
      await expectCode(() => vault.unseal(tenant, old), 'E_SHARE_INVALID');
      const fresh = {
        mechanism: 'shamir' as const,
        shares: [
          { file: r.shareFiles[0]!.file, passphrase: enc('dave pass') },
          { file: r.shareFiles[1]!.file, passphrase: enc('erin pass') },
        ],
      };
      expect((await vault.unseal(tenant, fresh)).state).toBe('unsealed');
      expect(await hashCryptograms(t)).toBe(before);
    });

    it('exports every wallet to an RSA-OAEP or X25519 recipient, signed by the audit key, only with the quorum', async () => {
      await initialized();
      const byo = await vault.importWallet(tenant, { walletId: 'byo', tier: 'hot', mnemonic: TEST_MNEMONIC });
      const w = await vault.createWallet(tenant, { walletId: 'w1', tier: 'hot' });
      for (const kind of ['rsa', 'x25519'] as const) {
        const out = await exportTo(t, tenant, kind);
        expect(out.wallets.map((x) => x.fingerprint)).toEqual([byo.fingerprint, w.fingerprint]);
        expect(out.secretFingerprints).toEqual([byo.fingerprint, w.fingerprint]);
      }
      const { publicKey } = generateKeyPairSync('x25519');
      const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
      const noQuorum =
        t.mechanism === 'shamir'
          ? {
              mechanism: 'shamir' as const,
              shares: [(t.kit(tenant).unseal() as unknown as { shares: never[] }).shares[0]!],
            }
          : {
              mechanism: 'pkcs11' as const,
              components: [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)],
            };
      const e = await failure(() =>
        vault.exportWallets(tenant, { recipientPublicKey: spki, quorum: noQuorum }),
      );
      expect(['E_SHARES_INSUFFICIENT', 'E_QUORUM_INCOMPLETE']).toContain(e.code);
      await expectCode(
        () =>
          vault.exportWallets(tenant, {
            recipientPublicKey: new Uint8Array([1, 2, 3]),
            quorum: t.kit(tenant).quorum(),
          }),
        'E_VALIDATION',
      );
    });
  });
}

/** Exports to a fresh recipient key and opens the file as the recipient would. */
export async function exportTo(t: VaultUnderTest, tenant: string, kind: 'rsa' | 'x25519') {
  const pair =
    kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('x25519');
  const spki = new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' }));
  const file = await t.vault.exportWallets(tenant, {
    recipientPublicKey: spki,
    quorum: t.kit(tenant).quorum(),
  });
  const audit = await t.vault.auditPublicKey(tenant);
  const opened = openTestExport(file.bytes, pair.privateKey, audit.publicKey);
  expect(opened.signatureValid).toBe(true);
  return opened;
}
