import { generateKeyPairSync, sign, verify as nodeVerify, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../domain/canonical.ts';
import {
  checkpointBytes,
  signCheckpoint,
  verifyCheckpoint,
  type Checkpoint,
  type CheckpointSigner,
} from './checkpoint.ts';

function testSigner(keyId: string): CheckpointSigner {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    keyId,
    publicKeyRaw: () => new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url')),
    sign: (bytes) => new Uint8Array(sign(null, bytes, privateKey)),
  };
}
const signer = testSigner('audit-a');
const trusted = new Map([[signer.keyId, signer.publicKeyRaw()]]);
const cp: Checkpoint = {
  tenant: 'acme',
  seq: 42,
  headHash: `sha256:${'ab'.repeat(32)}`,
  at: '2025-01-31T12:00:00.000Z',
};

describe('checkpoints', () => {
  it('signs the canonical bytes of exactly {tenant, seq, headHash, at} with Ed25519', async () => {
    const signed = await signCheckpoint(signer, { ...cp, extra: 'ignored' } as Checkpoint);
    expect(signed).toEqual({ ...cp, keyId: 'audit-a', signature: signed.signature });
    expect(Buffer.from(checkpointBytes(cp)).toString()).toBe(canonicalize(cp));
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(signer.publicKeyRaw()).toString('base64url') },
      format: 'jwk',
    });
    expect(
      nodeVerify(null, Buffer.from(canonicalize(cp)), key, Buffer.from(signed.signature, 'base64')),
    ).toBe(true);
    expect(verifyCheckpoint(signed, trusted)).toEqual({ ok: true });
  });

  it('refuses any changed field, an untrusted key and a malformed signature', async () => {
    const signed = await signCheckpoint(signer, cp);
    const changes: Partial<Checkpoint>[] = [
      { tenant: 'other' },
      { seq: 43 },
      { headHash: `sha256:${'cd'.repeat(32)}` },
      { at: '2025-01-31T12:00:00.001Z' },
    ];
    for (const change of changes) {
      expect(verifyCheckpoint({ ...signed, ...change }, trusted)).toMatchObject({
        ok: false,
        reason: 'bad-signature',
      });
    }
    const stranger = await signCheckpoint(testSigner('audit-b'), cp);
    expect(verifyCheckpoint(stranger, trusted)).toMatchObject({ ok: false, reason: 'unknown-key' });
    // A trusted key id does not make another key's signature valid.
    expect(verifyCheckpoint({ ...stranger, keyId: 'audit-a' }, trusted)).toMatchObject({
      ok: false,
      reason: 'bad-signature',
    });
    expect(verifyCheckpoint({ ...signed, signature: 'abc' }, trusted)).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
    expect(verifyCheckpoint({ ...signed, seq: -1 }, trusted)).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
  });

  it('rejects a malformed checkpoint or signer output with typed errors', async () => {
    await expect(signCheckpoint(signer, { ...cp, at: 'yesterday' })).rejects.toMatchObject({
      code: 'E_VALIDATION',
      details: { parameter: 'at' },
    });
    await expect(
      signCheckpoint(signer, { ...cp, headHash: 'sha256:xyz' as `sha256:${string}` }),
    ).rejects.toMatchObject({
      code: 'E_VALIDATION',
      details: { parameter: 'headHash' },
    });
    const broken: CheckpointSigner = {
      ...signer,
      keyId: 'audit-a',
      publicKeyRaw: signer.publicKeyRaw,
      sign: () => new Uint8Array(10),
    };
    await expect(signCheckpoint(broken, cp)).rejects.toMatchObject({ code: 'E_INTERNAL' });
  });
});
