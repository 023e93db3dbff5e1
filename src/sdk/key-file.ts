/**
 * The user's key file: their own request-signing key pair (never a custody key), as JSON with mode 0600.
 *
 *   {"format":"strongroom-key","version":1,"alg":"ed25519","keyId":"k_…","label":"…",
 *    "publicKey":"<SPKI DER base64>","privateKey":"-----BEGIN PRIVATE KEY-----…"}
 *
 * With a passphrase the private key is an encrypted PKCS#8 PEM (PBES2: AES-256-CBC under a PBKDF2 key with
 * OpenSSL's default iteration count, so only as strong as the passphrase).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { StrongroomError } from '../domain/errors.ts';
import { isKeyAlgorithm, KEY_ALGORITHMS, parsePublicKey, type KeyAlgorithm } from '../domain/keys.ts';
import { parseStrictJson } from '../api/strict-json.ts';
import { createRequestSigner, generatePrivateKey, type RequestSigner } from './signer.ts';

export const KEY_FILE_FORMAT = 'strongroom-key';
export const KEY_FILE_VERSION = 1;

export interface GenerateKeyFileParameters {
  alg: KeyAlgorithm;
  label?: string;
  /** Encrypts the private key in the file; the same passphrase is needed to load it. */
  passphrase?: string;
}

/** What may be shown and registered: no private material. */
export interface KeyFilePublicInfo {
  path: string;
  alg: KeyAlgorithm;
  keyId: string;
  /** SPKI DER, base64: what to register on the server. */
  publicKey: string;
  label?: string;
}

export interface LoadKeyFileOptions {
  passphrase?: string;
}

/**
 * Generates a key pair and writes it to a new file, readable by its owner only.
 * Throws E_CONFLICT if the file exists (a key file is never overwritten).
 *
 * @example
 * const info = generateKeyFile('./alice.key.json', { alg: 'ed25519', label: 'alice laptop' });
 * console.log(info.keyId, info.publicKey); // register these; keep the file private
 */
export function generateKeyFile(path: string, params: GenerateKeyFileParameters): KeyFilePublicInfo {
  if (!isKeyAlgorithm(params.alg)) {
    throw new StrongroomError('E_VALIDATION', `alg must be one of ${KEY_ALGORITHMS.join(', ')}`, {
      details: { parameter: 'alg' },
    });
  }
  if (params.label !== undefined && (typeof params.label !== 'string' || params.label.length > 200)) {
    throw new StrongroomError('E_VALIDATION', 'label must be a string of at most 200 characters', {
      details: { parameter: 'label' },
    });
  }
  if (
    params.passphrase !== undefined &&
    (typeof params.passphrase !== 'string' || params.passphrase.length < 8)
  ) {
    throw new StrongroomError('E_VALIDATION', 'passphrase must be at least 8 characters', {
      details: { parameter: 'passphrase' },
    });
  }
  const privateKey = generatePrivateKey(params.alg);
  const signer = createRequestSigner(privateKey);
  const pem = privateKey.export(
    params.passphrase === undefined
      ? { format: 'pem', type: 'pkcs8' }
      : { format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: params.passphrase },
  ) as string;
  const file = {
    format: KEY_FILE_FORMAT,
    version: KEY_FILE_VERSION,
    alg: signer.alg,
    keyId: signer.keyId,
    ...(params.label === undefined ? {} : { label: params.label }),
    publicKey: signer.publicKeySpki,
    privateKey: pem,
  };
  try {
    // 'wx' fails if the path exists (no overwrite, no symlink following); mode applies on creation.
    writeFileSync(path, JSON.stringify(file, null, 2) + '\n', { flag: 'wx', mode: 0o600 });
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new StrongroomError('E_CONFLICT', `key file ${path} already exists`, {
        details: { path },
        hints: ['choose another path; an existing key file is never overwritten'],
      });
    }
    throw new StrongroomError('E_VALIDATION', `cannot write key file ${path}`, { details: { path }, cause });
  }
  return {
    path,
    alg: signer.alg,
    keyId: signer.keyId,
    publicKey: signer.publicKeySpki,
    ...(params.label === undefined ? {} : { label: params.label }),
  };
}

/**
 * Loads a key file as a request signer. Refuses files readable by group or others (like ssh), files whose
 * public key or key id do not match the private key, and anything not in the format above.
 *
 * @example
 * const signer = loadKeyFile('./alice.key.json');
 * const client = createClient({ baseUrl: 'https://vault.example', signer });
 */
export function loadKeyFile(path: string, options: LoadKeyFileOptions = {}): RequestSigner {
  let text: string;
  try {
    if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
      throw new StrongroomError('E_VALIDATION', `key file ${path} is readable by others`, {
        details: { path },
        hints: [`chmod 600 ${path}`],
      });
    }
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if (cause instanceof StrongroomError) throw cause;
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    throw new StrongroomError(missing ? 'E_NOT_FOUND' : 'E_VALIDATION', `cannot read key file ${path}`, {
      details: { path },
      cause,
    });
  }
  const file = parseKeyFile(text, path);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({
      key: file.privateKey,
      format: 'pem',
      ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    });
  } catch {
    // No cause: OpenSSL's message could echo parts of the key material.
    const encrypted = file.privateKey.includes('ENCRYPTED');
    throw new StrongroomError(
      encrypted ? 'E_PASSPHRASE_WRONG' : 'E_KEY_MATERIAL_INVALID',
      encrypted
        ? `wrong or missing passphrase for key file ${path}`
        : `key file ${path} holds no valid private key`,
      { details: { path } },
    );
  }
  const signer = createRequestSigner(privateKey);
  if (signer.alg !== file.alg || signer.publicKeySpki !== file.publicKey || signer.keyId !== file.keyId) {
    throw new StrongroomError(
      'E_KEY_MATERIAL_INVALID',
      `key file ${path} is inconsistent (alg, publicKey, keyId)`,
      {
        details: { path },
      },
    );
  }
  return signer;
}

interface KeyFileContents {
  alg: KeyAlgorithm;
  keyId: string;
  publicKey: string;
  privateKey: string;
}

function parseKeyFile(text: string, path: string): KeyFileContents {
  const bad = (what: string): never => {
    throw new StrongroomError('E_VALIDATION', `key file ${path}: ${what}`, { details: { path } });
  };
  let raw: unknown;
  try {
    raw = parseStrictJson(text);
  } catch {
    return bad('not valid JSON');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return bad('not a JSON object');
  const f = raw as Record<string, unknown>;
  if (f.format !== KEY_FILE_FORMAT) return bad(`format must be "${KEY_FILE_FORMAT}"`);
  if (f.version !== KEY_FILE_VERSION) return bad(`unsupported version ${String(f.version)}`);
  if (!isKeyAlgorithm(f.alg)) return bad('unsupported alg');
  if (typeof f.keyId !== 'string') return bad('keyId missing');
  if (typeof f.publicKey !== 'string') return bad('publicKey missing');
  if (typeof f.privateKey !== 'string' || !f.privateKey.startsWith('-----BEGIN '))
    return bad('privateKey must be PEM');
  if (f.label !== undefined && typeof f.label !== 'string') return bad('label must be a string');
  parsePublicKey(f.alg, f.publicKey);
  return { alg: f.alg, keyId: f.keyId, publicKey: f.publicKey, privateKey: f.privateKey };
}
