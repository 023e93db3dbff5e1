import { describe, it, expect } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';
import {
  algorithmOfPrivateKey,
  createRequestSigner,
  generatePrivateKey,
  generateRequestSigner,
} from './signer.ts';
import { KEY_ALGORITHMS, keyIdOf, parsePublicKey, verifySignature } from '../domain/keys.ts';
import { StrongroomError } from '../domain/errors.ts';

describe('request signers', () => {
  it.each(KEY_ALGORITHMS)('%s: key id, canonical SPKI and 64-byte signatures that verify', (alg) => {
    const signer = generateRequestSigner(alg);
    expect(signer.alg).toBe(alg);
    expect(signer.keyId).toBe(keyIdOf(Buffer.from(signer.publicKeySpki, 'base64')));
    const key = parsePublicKey(alg, signer.publicKeySpki); // canonical, or this throws
    const data = Buffer.from('x');
    const sig = signer.sign(data) as Uint8Array;
    expect(sig.length).toBe(64);
    expect(verifySignature(alg, key, data, sig)).toBe(true);
    expect(verifySignature(alg, key, Buffer.from('y'), sig)).toBe(false);
  });

  it('exposes public information only', () => {
    const privateKey = generatePrivateKey('ed25519');
    const signer = createRequestSigner(privateKey);
    const secret = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64');
    expect(JSON.stringify(signer)).not.toContain(secret);
    expect(inspect(signer, { showHidden: true })).toBe(
      `RequestSigner { keyId: '${signer.keyId}', alg: 'ed25519' }`,
    );
    expect(Object.keys(signer).sort()).toStrictEqual([
      'alg',
      'keyId',
      'publicKeySpki',
      'sign',
      'toJSON',
      'toString',
    ]);
  });

  it('refuses public keys and unsupported key types, naming privateKey', () => {
    const ed = generateKeyPairSync('ed25519');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    for (const key of [ed.publicKey, rsa.privateKey, p384.privateKey]) {
      try {
        algorithmOfPrivateKey(key);
        throw new Error('expected a refusal');
      } catch (e) {
        expect(e).toBeInstanceOf(StrongroomError);
        expect((e as StrongroomError).code).toBe('E_VALIDATION');
        expect((e as StrongroomError).details.parameter).toBe('privateKey');
      }
    }
  });
});
