/**
 * A request signer holds the user's own private key (never a custody key) and signs request signature
 * bases with it. The private key lives only in a closure: nothing reachable from the object, its JSON or
 * its inspection reveals it.
 */
import { createPublicKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { StrongroomError } from '../domain/errors.ts';
import { keyIdOf, type KeyAlgorithm } from '../domain/keys.ts';
import type { RequestSigner } from '../domain/http-signatures.ts';

export type { RequestSigner } from '../domain/http-signatures.ts';

/** The algorithm a private key can sign with, or an E_VALIDATION naming `privateKey`. */
export function algorithmOfPrivateKey(privateKey: KeyObject): KeyAlgorithm {
  if (privateKey.type !== 'private') {
    throw new StrongroomError('E_VALIDATION', 'privateKey must be a private key', {
      details: { parameter: 'privateKey' },
    });
  }
  if (privateKey.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (privateKey.asymmetricKeyType === 'ec') {
    const curve = privateKey.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ecdsa-p256-sha256';
    if (curve === 'secp256k1') return 'ecdsa-secp256k1-sha256';
  }
  throw new StrongroomError('E_VALIDATION', 'privateKey must be Ed25519, P-256 or secp256k1', {
    details: { parameter: 'privateKey', keyType: privateKey.asymmetricKeyType },
  });
}

/**
 * Wraps a private key as a `RequestSigner`.
 *
 * @example
 * const signer = createRequestSigner(createPrivateKey(pem));
 * const headers = await signRequest({ method: 'POST', targetUri, body, signer });
 */
export function createRequestSigner(privateKey: KeyObject): RequestSigner {
  const alg = algorithmOfPrivateKey(privateKey);
  // SPKI export of EC keys uses uncompressed points: the canonical form parsePublicKey requires.
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const keyId = keyIdOf(spki);
  const publicKeySpki = spki.toString('base64');
  const sign = (data: Uint8Array): Uint8Array =>
    alg === 'ed25519'
      ? cryptoSign(null, data, privateKey)
      : cryptoSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const publicView = { keyId, alg, publicKeySpki };
  return Object.freeze({
    ...publicView,
    sign,
    toJSON: () => publicView,
    toString: () => `RequestSigner(${keyId}, ${alg})`,
    [inspect.custom]: () => `RequestSigner { keyId: '${keyId}', alg: '${alg}' }`,
  });
}

/** A fresh in-memory signer (tests, benchmarks, short-lived service keys). */
export function generateRequestSigner(alg: KeyAlgorithm): RequestSigner {
  return createRequestSigner(generatePrivateKey(alg));
}

export function generatePrivateKey(alg: KeyAlgorithm): KeyObject {
  switch (alg) {
    case 'ed25519':
      return generateKeyPairSync('ed25519').privateKey;
    case 'ecdsa-p256-sha256':
      return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    case 'ecdsa-secp256k1-sha256':
      return generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
    default:
      throw new StrongroomError('E_VALIDATION', `unsupported alg ${String(alg)}`, {
        details: { parameter: 'alg' },
      });
  }
}
