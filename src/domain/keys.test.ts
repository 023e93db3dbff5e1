import { describe, it, expect } from 'vitest';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  KEY_ALGORITHMS,
  PublicKeyCache,
  keyIdOf,
  parsePublicKey,
  verifySignature,
  type KeyAlgorithm,
} from './keys.ts';
import { StrongroomError } from './errors.ts';

function spkiOf(alg: KeyAlgorithm): string {
  const pair =
    alg === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: alg === 'ecdsa-p256-sha256' ? 'prime256v1' : 'secp256k1' });
  return pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
}

function validationError(fn: () => unknown): StrongroomError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StrongroomError);
    expect((e as StrongroomError).code).toBe('E_VALIDATION');
    return e as StrongroomError;
  }
  throw new Error('expected E_VALIDATION');
}

describe('parsePublicKey', () => {
  it.each(KEY_ALGORITHMS)('accepts a %s key', (alg) => {
    const spki = spkiOf(alg);
    const key = parsePublicKey(alg, spki);
    expect(key.type).toBe('public');
    expect(key.export({ format: 'der', type: 'spki' }).toString('base64')).toBe(spki);
  });

  it.each([
    ['ed25519', 'ecdsa-p256-sha256'],
    ['ecdsa-p256-sha256', 'ecdsa-secp256k1-sha256'],
    ['ecdsa-secp256k1-sha256', 'ecdsa-p256-sha256'],
    ['ecdsa-p256-sha256', 'ed25519'],
  ] as const)('refuses a %s key registered as %s, naming publicKey', (actual, claimed) => {
    const e = validationError(() => parsePublicKey(claimed, spkiOf(actual)));
    expect(e.details.parameter).toBe('publicKey');
  });

  it('refuses an unknown alg, naming alg', () => {
    const e = validationError(() => parsePublicKey('rsa-pss-sha512' as KeyAlgorithm, spkiOf('ed25519')));
    expect(e.details.parameter).toBe('alg');
  });

  it('refuses RSA keys', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const spki = rsa.export({ format: 'der', type: 'spki' }).toString('base64');
    validationError(() => parsePublicKey('ed25519', spki));
  });

  it.each([
    ['empty', ''],
    ['not base64', '!!!!'],
    ['unpadded', 'MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs'],
    ['with whitespace', 'MCowBQYDK2VwAyEAJrQLj5P/89iXES9+ vFgrIy29clF9CC/oPPsw3c5D0bs='],
    ['base64url', 'MCowBQYDK2VwAyEAJrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs='],
    ['truncated DER', 'MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/o'],
    ['too long', 'A'.repeat(1024)],
  ])('refuses %s input', (_name, spki) => {
    const e = validationError(() => parsePublicKey('ed25519', spki));
    expect(e.details.parameter).toBe('publicKey');
  });

  it('refuses a compressed EC point (one key must have one key id)', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwk = publicKey.export({ format: 'jwk' });
    const x = Buffer.from(jwk.x!, 'base64url');
    const y = Buffer.from(jwk.y!, 'base64url');
    // Same AlgorithmIdentifier (bytes 2..23 of the SPKI), then a BIT STRING holding the 33-byte point.
    const algorithmId = publicKey.export({ format: 'der', type: 'spki' }).subarray(2, 23);
    const compressed = Buffer.concat([
      Buffer.from([0x30, 0x39]),
      algorithmId,
      Buffer.from([0x03, 0x22, 0x00, (y[31]! & 1) === 1 ? 0x03 : 0x02]),
      x,
    ]);
    // node:crypto itself accepts the compressed form; we refuse it as non-canonical.
    expect(createPublicKey({ key: compressed, format: 'der', type: 'spki' }).asymmetricKeyType).toBe('ec');
    const e = validationError(() => parsePublicKey('ecdsa-p256-sha256', compressed.toString('base64')));
    expect(e.message).toContain('canonical');
  });
});

describe('keyIdOf', () => {
  it('is k_ + base64url of the first 16 bytes of sha256(spki)', () => {
    // RFC 9421 B.1.4 test-key-ed25519 public key.
    const spki = Buffer.from('MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=', 'base64');
    const digest = createHash('sha256').update(spki).digest('hex');
    const id = keyIdOf(spki);
    expect(id).toMatch(/^k_[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(id.slice(2), 'base64url').toString('hex')).toBe(digest.slice(0, 32));
  });

  it('differs for different keys', () => {
    const a = keyIdOf(Buffer.from(spkiOf('ed25519'), 'base64'));
    const b = keyIdOf(Buffer.from(spkiOf('ed25519'), 'base64'));
    expect(a).not.toBe(b);
  });
});

describe('verifySignature', () => {
  it('returns false, not throws, on a wrong-length or garbage signature', () => {
    const key = parsePublicKey('ecdsa-p256-sha256', spkiOf('ecdsa-p256-sha256'));
    expect(verifySignature('ecdsa-p256-sha256', key, Buffer.from('x'), new Uint8Array(63))).toBe(false);
    expect(verifySignature('ecdsa-p256-sha256', key, Buffer.from('x'), new Uint8Array(64))).toBe(false);
    expect(verifySignature('ecdsa-p256-sha256', key, Buffer.from('x'), new Uint8Array(64).fill(0xff))).toBe(
      false,
    );
  });
});

describe('PublicKeyCache', () => {
  it('returns the same KeyObject on a hit and evicts the least recently used', () => {
    const cache = new PublicKeyCache(2);
    const [a, b, c] = [spkiOf('ed25519'), spkiOf('ed25519'), spkiOf('ed25519')];
    const ka = cache.get('ed25519', a);
    cache.get('ed25519', b);
    expect(cache.get('ed25519', a)).toBe(ka); // a is now most recent
    cache.get('ed25519', c); // evicts b
    expect(cache.size).toBe(2);
    expect(cache.get('ed25519', a)).toBe(ka);
    expect(cache.size).toBe(2);
  });

  it('keys entries by alg too, and does not cache failures', () => {
    const cache = new PublicKeyCache(4);
    const spki = spkiOf('ecdsa-p256-sha256');
    validationError(() => cache.get('ecdsa-secp256k1-sha256', spki));
    expect(cache.size).toBe(0);
    cache.get('ecdsa-p256-sha256', spki);
    validationError(() => cache.get('ecdsa-secp256k1-sha256', spki));
    expect(cache.size).toBe(1);
  });

  it('validates its bound', () => {
    validationError(() => new PublicKeyCache(0));
  });
});
