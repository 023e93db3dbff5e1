/**
 * INTERIM: signs audit checkpoints with an Ed25519 key kept in a file on the server, until the vault
 * signs them with its own audit key (a later issue). Anyone who can read the key file can forge
 * checkpoints, so this protects against database-only tampering, not against a server administrator.
 * The name says so on purpose; replace it, do not extend it.
 *
 * The key file is PKCS#8 PEM, created with mode 0600 and refused if group or others may read it.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import type { CheckpointSigner } from '../audit/checkpoint.ts';
import { StrongroomError } from '../domain/errors.ts';

export class InterimAuditSigner implements CheckpointSigner {
  readonly keyId: string;
  readonly #privateKey: KeyObject;
  readonly #publicKeyRaw: Uint8Array;

  private constructor(privateKey: KeyObject) {
    this.#privateKey = privateKey;
    const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
    this.#publicKeyRaw = new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'));
    this.keyId = `audit-interim-${createHash('sha256').update(this.#publicKeyRaw).digest('hex').slice(0, 16)}`;
  }

  /**
   * Loads the key at `path`, or creates it (and its directory, mode 0700) if there is none. Throws
   * `E_KEY_MATERIAL_INVALID` if the file is readable by group/others or is not an Ed25519 PKCS#8 key.
   */
  static loadOrCreate(path: string): InterimAuditSigner {
    if (typeof path !== 'string' || path.length === 0) {
      throw new StrongroomError('E_VALIDATION', 'interim audit key path must be a non-empty string', {
        details: { parameter: 'path' },
      });
    }
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    try {
      // 'wx': never overwrite a key another process created meanwhile; load that one instead.
      writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      return new InterimAuditSigner(privateKey);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    return InterimAuditSigner.#load(path);
  }

  static #load(path: string): InterimAuditSigner {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new StrongroomError(
        'E_KEY_MATERIAL_INVALID',
        'interim audit key file is readable by group or others',
        {
          details: { path, mode: mode.toString(8) },
          hints: [`chmod 600 ${path}`, 'anyone who can read this file can forge audit checkpoints'],
        },
      );
    }
    const pem = readFileSync(path);
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: pem, format: 'pem' });
    } catch {
      // No cause attached: OpenSSL's message is harmless, but the rule is nothing near key bytes leaves.
      throw new StrongroomError(
        'E_KEY_MATERIAL_INVALID',
        'interim audit key file is not a PKCS#8 PEM private key',
        { details: { path } },
      );
    } finally {
      pem.fill(0);
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new StrongroomError(
        'E_KEY_MATERIAL_INVALID',
        'interim audit key file does not hold an Ed25519 key',
        {
          details: { path, keyType: key.asymmetricKeyType },
        },
      );
    }
    return new InterimAuditSigner(key);
  }

  publicKeyRaw(): Uint8Array {
    return new Uint8Array(this.#publicKeyRaw);
  }

  sign(bytes: Uint8Array): Uint8Array {
    if (!(bytes instanceof Uint8Array)) {
      throw new StrongroomError('E_VALIDATION', 'bytes to sign must be a Uint8Array', {
        details: { parameter: 'bytes' },
      });
    }
    return new Uint8Array(sign(null, bytes, this.#privateKey));
  }

  // Nothing that serialises or prints this object may reveal the key.
  toJSON(): { keyId: string } {
    return { keyId: this.keyId };
  }

  toString(): string {
    return `InterimAuditSigner(${this.keyId})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
