/**
 * The vault as the running server uses it: status and unseal over the signed HTTP API, its actions in the
 * tenant's audit chain, and audit checkpoints signed by the vault's own audit key (not the interim key).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../support/databases.ts';
import { auditLength, fingerprint, send, startTestApp, type TestApp } from '../support/app.ts';

for (const dialect of DIALECTS) {
  describe(`vault over the API on ${dialect}`, () => {
    let t: TestApp;
    let shares: Array<{ file: string; passphrase: string }>;
    beforeAll(async () => {
      t = await startTestApp(dialect);
    });
    afterAll(async () => t?.close());

    it('reports an uninitialized vault, and the interim key signs checkpoints until the ceremony', async () => {
      const s = await send(t, 'GET', '/v1/vault/status');
      expect(s.status).toBe(200);
      expect(s.body.state).toBe('uninitialized');
      const cp = await t.app.audit.checkpoint(t.tenantId);
      expect(cp?.keyId).toMatch(/^audit-interim-/);
    });

    it('runs the key ceremony, then checkpoints are signed by the vault audit key', async () => {
      const r = await t.app.vault.initialize(t.tenantId, {
        mechanism: 'shamir',
        threshold: 2,
        custodians: ['carol', 'dan', 'erin'].map((name) => ({
          name,
          passphrase: new TextEncoder().encode(`${name} passphrase`),
        })),
      });
      shares = r.shareFiles!.map((f) => ({
        file: Buffer.from(f.file).toString('base64'),
        passphrase: `${f.custodian} passphrase`,
      }));
      expect(shares).toHaveLength(3);
      expect((await send(t, 'GET', '/v1/vault/status')).body.state).toBe('unsealed');
      await t.app.vault.createWallet(t.tenantId, {
        walletId: 'wal_treasury',
        tier: 'warm',
        label: 'Treasury',
      });
      const cp = await t.app.audit.checkpoint(t.tenantId);
      expect(cp?.keyId).toBe(r.auditPublicKey.keyId);
      const v = await t.app.audit.verify(t.tenantId);
      expect(v.problems).toEqual([]);
      expect(v.anchoredSeq).toBe(v.headSeq);
      const actions = (await t.app.audit.entries(t.tenantId, 0, 1000)).map((e) => e.action);
      expect(actions).toEqual(expect.arrayContaining(['vault.initialize', 'vault.wallet.create']));
    });

    it('sealed: key operations fail, no checkpoint is signed, status says sealed', async () => {
      await t.app.vault.seal(t.tenantId, {});
      expect((await send(t, 'GET', '/v1/vault/status')).body.state).toBe('sealed');
      await expect(
        t.app.vault.createWallet(t.tenantId, { walletId: 'wal_x', tier: 'hot', label: 'x' }),
      ).rejects.toMatchObject({ code: 'E_VAULT_SEALED' });
      await send(t, 'POST', '/v1/requests', {
        body: { type: 'transfer', asset: 'BTC', amount: '1', from: 'wal_treasury', to: 'bcrt1qx' },
      });
      expect(await t.app.audit.checkpoint(t.tenantId)).toBeUndefined();
    });

    it('refuses an unsigned unseal and a short or wrong quorum, changing nothing but the audit of the attempts', async () => {
      const unsigned = await send(t, 'POST', '/v1/vault/unseal', {
        unsigned: true,
        body: { mechanism: 'shamir', shares: shares.slice(0, 2) },
      });
      expect(unsigned.body.code).toBe('E_SIGNATURE_MISSING');
      const before = await fingerprint(t, { exceptAudit: true });
      const len = await auditLength(t);
      const short = await send(t, 'POST', '/v1/vault/unseal', {
        body: { mechanism: 'shamir', shares: shares.slice(0, 1) },
      });
      expect(short.body.code).toBe('E_SHARES_INSUFFICIENT');
      const wrong = await send(t, 'POST', '/v1/vault/unseal', {
        body: { mechanism: 'shamir', shares: [shares[0]!, { ...shares[1]!, passphrase: 'not it' }] },
      });
      expect(wrong.body.code).toBe('E_PASSPHRASE_WRONG');
      expect(JSON.stringify(wrong.body)).not.toContain('not it');
      expect((await send(t, 'GET', '/v1/vault/status')).body.state).toBe('sealed');
      // The vault audits every unseal attempt before acting (fail closed), so refused attempts are on record.
      expect(await auditLength(t)).toBe(len + 2);
      expect(await fingerprint(t, { exceptAudit: true })).toBe(before);
    });

    it('unseals with any two custodians over the signed API, and checkpoints resume', async () => {
      const r = await send(t, 'POST', '/v1/vault/unseal', {
        body: { mechanism: 'shamir', shares: [shares[2]!, shares[0]!] },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.state).toBe('unsealed');
      const cp = await t.app.audit.checkpoint(t.tenantId);
      expect(cp?.keyId).toMatch(/^audit-vault-/);
      const v = await t.app.audit.verify(t.tenantId);
      expect(v.ok).toBe(true);
      const entries = await t.app.audit.entries(t.tenantId, 0, 1000);
      const unseal = entries.filter((e) => e.action === 'vault.unseal');
      expect(unseal.at(-1)?.actor).toBe(t.admin.signer.keyId);
    });
  });
}
