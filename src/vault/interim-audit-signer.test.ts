import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { signCheckpoint, verifyCheckpoint } from '../audit/checkpoint.ts';
import { InterimAuditSigner } from './interim-audit-signer.ts';

const dir = mkdtempSync(join(tmpdir(), 'strongroom-interim-signer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cp = {
  tenant: 'acme',
  seq: 1,
  headHash: `sha256:${'0'.repeat(64)}` as const,
  at: '2025-01-31T12:00:00.000Z',
};

describe('InterimAuditSigner', () => {
  it('creates a 0600 PKCS#8 key once, then loads the same key', async () => {
    const path = join(dir, 'keys', 'audit.pem');
    const a = InterimAuditSigner.loadOrCreate(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const b = InterimAuditSigner.loadOrCreate(path);
    expect(b.keyId).toBe(a.keyId);
    expect(b.publicKeyRaw()).toEqual(a.publicKeyRaw());
    expect(a.keyId).toBe(
      `audit-interim-${createHash('sha256').update(a.publicKeyRaw()).digest('hex').slice(0, 16)}`,
    );
    expect(a.publicKeyRaw()).toHaveLength(32);

    // Signatures made after a reload verify under the key id first published.
    const signed = await signCheckpoint(b, cp);
    expect(verifyCheckpoint(signed, new Map([[a.keyId, a.publicKeyRaw()]]))).toEqual({ ok: true });
  });

  it('never reveals the key through JSON, toString or inspect', () => {
    const path = join(dir, 'leak.pem');
    const s = InterimAuditSigner.loadOrCreate(path);
    const body = readFileSync(path, 'utf8').split('\n')[1]!;
    for (const text of [JSON.stringify(s), String(s), `${s}`, inspect(s, { showHidden: true, depth: 5 })]) {
      expect(text).toContain(s.keyId);
      expect(text).not.toContain(body.slice(0, 16));
      expect(text).not.toMatch(/PRIVATE|KeyObject/);
    }
  });

  it('refuses a key file others can read, and one that is not an Ed25519 PKCS#8 key', () => {
    const open = join(dir, 'open.pem');
    InterimAuditSigner.loadOrCreate(open);
    chmodSync(open, 0o644);
    expect(() => InterimAuditSigner.loadOrCreate(open)).toThrow(
      expect.objectContaining({ code: 'E_KEY_MATERIAL_INVALID' }),
    );

    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a key', { mode: 0o600 });
    expect(() => InterimAuditSigner.loadOrCreate(garbage)).toThrow(
      expect.objectContaining({ code: 'E_KEY_MATERIAL_INVALID' }),
    );
    expect(readFileSync(garbage, 'utf8')).toBe('not a key'); // never overwritten

    const ec = join(dir, 'ec.pem');
    writeFileSync(
      ec,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
      { mode: 0o600 },
    );
    expect(() => InterimAuditSigner.loadOrCreate(ec)).toThrow(
      expect.objectContaining({ code: 'E_KEY_MATERIAL_INVALID' }),
    );
  });
});
