import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { generateKeyFile, loadKeyFile } from './key-file.ts';
import { KEY_ALGORITHMS, keyIdOf, parsePublicKey, verifySignature } from '../domain/keys.ts';
import { StrongroomError, type ErrorCode } from '../domain/errors.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strongroom-keyfile-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): ErrorCode {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StrongroomError);
    return (e as StrongroomError).code;
  }
  throw new Error('expected a StrongroomError');
}

describe('generateKeyFile / loadKeyFile', () => {
  it.each(KEY_ALGORITHMS)(
    '%s: writes a 0600 file, returns public info only, loads a working signer',
    (alg) => {
      const path = join(dir, 'k.json');
      const info = generateKeyFile(path, { alg, label: 'alice laptop' });
      expect(Object.keys(info).sort()).toStrictEqual(['alg', 'keyId', 'label', 'path', 'publicKey']);
      expect(info.keyId).toBe(keyIdOf(Buffer.from(info.publicKey, 'base64')));
      expect(statSync(path).mode & 0o777).toBe(0o600);

      const file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      expect(file).toMatchObject({
        format: 'strongroom-key',
        version: 1,
        alg,
        keyId: info.keyId,
        label: 'alice laptop',
      });
      expect(file.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);

      const signer = loadKeyFile(path);
      expect(signer).toMatchObject({ keyId: info.keyId, alg, publicKeySpki: info.publicKey });
      const data = Buffer.from('signature base');
      const sig = signer.sign(data) as Uint8Array;
      expect(sig.length).toBe(64);
      expect(verifySignature(alg, parsePublicKey(alg, info.publicKey), data, sig)).toBe(true);
    },
  );

  it('never overwrites: E_CONFLICT and the existing file is unchanged', () => {
    const path = join(dir, 'k.json');
    generateKeyFile(path, { alg: 'ed25519' });
    const before = readFileSync(path, 'utf8');
    expect(codeOf(() => generateKeyFile(path, { alg: 'ed25519' }))).toBe('E_CONFLICT');
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('validates its parameters', () => {
    expect(codeOf(() => generateKeyFile(join(dir, 'a'), { alg: 'rsa' as 'ed25519' }))).toBe('E_VALIDATION');
    expect(codeOf(() => generateKeyFile(join(dir, 'b'), { alg: 'ed25519', passphrase: 'short' }))).toBe(
      'E_VALIDATION',
    );
  });

  it('the signer never reveals the private key through JSON, inspection, string or its properties', () => {
    const path = join(dir, 'k.json');
    generateKeyFile(path, { alg: 'ecdsa-p256-sha256' });
    const pem = (JSON.parse(readFileSync(path, 'utf8')) as { privateKey: string }).privateKey;
    const body = pem.split('\n')[1]!.slice(0, 24);
    const signer = loadKeyFile(path);
    const views = [JSON.stringify(signer), inspect(signer, { showHidden: true, depth: 10 }), String(signer)];
    for (const view of views) {
      expect(view).not.toContain(body);
      expect(view).not.toContain('PRIVATE');
    }
    expect(JSON.parse(JSON.stringify(signer))).toStrictEqual({
      keyId: signer.keyId,
      alg: 'ecdsa-p256-sha256',
      publicKeySpki: signer.publicKeySpki,
    });
    for (const value of Object.values(signer))
      expect(typeof value === 'object' && value !== null).toBe(false);
    expect(Object.isFrozen(signer)).toBe(true);
  });

  it('encrypts the private key with a passphrase, and needs it to load', () => {
    const path = join(dir, 'k.json');
    const info = generateKeyFile(path, { alg: 'ed25519', passphrase: 'correct horse battery' });
    expect(readFileSync(path, 'utf8')).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    expect(codeOf(() => loadKeyFile(path))).toBe('E_PASSPHRASE_WRONG');
    expect(codeOf(() => loadKeyFile(path, { passphrase: 'wrong horse battery' }))).toBe('E_PASSPHRASE_WRONG');
    expect(loadKeyFile(path, { passphrase: 'correct horse battery' }).keyId).toBe(info.keyId);
  });

  it('refuses a file readable by group or others', () => {
    if (process.platform === 'win32') return;
    const path = join(dir, 'k.json');
    generateKeyFile(path, { alg: 'ed25519' });
    chmodSync(path, 0o644);
    expect(codeOf(() => loadKeyFile(path))).toBe('E_VALIDATION');
  });

  it('E_NOT_FOUND for a missing file', () => {
    expect(codeOf(() => loadKeyFile(join(dir, 'missing.json')))).toBe('E_NOT_FOUND');
  });

  it('refuses files whose public key or key id do not match the private key', () => {
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    generateKeyFile(a, { alg: 'ed25519' });
    generateKeyFile(b, { alg: 'ed25519' });
    const fa = JSON.parse(readFileSync(a, 'utf8')) as Record<string, unknown>;
    const fb = JSON.parse(readFileSync(b, 'utf8')) as Record<string, unknown>;
    const write = (name: string, content: unknown) => {
      const p = join(dir, name);
      writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 });
      return p;
    };
    expect(codeOf(() => loadKeyFile(write('c1', { ...fa, publicKey: fb.publicKey })))).toBe(
      'E_KEY_MATERIAL_INVALID',
    );
    expect(codeOf(() => loadKeyFile(write('c2', { ...fa, keyId: fb.keyId })))).toBe('E_KEY_MATERIAL_INVALID');
    expect(codeOf(() => loadKeyFile(write('c3', { ...fa, privateKey: fb.privateKey })))).toBe(
      'E_KEY_MATERIAL_INVALID',
    );
    expect(codeOf(() => loadKeyFile(write('c4', { ...fa, alg: 'ecdsa-p256-sha256' })))).toBe('E_VALIDATION');
    expect(codeOf(() => loadKeyFile(write('c5', { ...fa, format: 'other' })))).toBe('E_VALIDATION');
    expect(codeOf(() => loadKeyFile(write('c6', { ...fa, version: 2 })))).toBe('E_VALIDATION');
    expect(codeOf(() => loadKeyFile(write('c7', '{"format":"strongroom-key","format":"x"}')))).toBe(
      'E_VALIDATION',
    );
    expect(
      codeOf(() =>
        loadKeyFile(
          write('c8', {
            ...fa,
            privateKey: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
          }),
        ),
      ),
    ).toBe('E_KEY_MATERIAL_INVALID');
  });
});
