/**
 * Export of all wallets to another custody provider: a change of custody without an on-chain move.
 *
 * Hybrid encryption: a fresh 32-byte export key encrypts each wallet secret (AES-256-GCM, associated data
 * binds tenant, walletId and fingerprint); the export key is wrapped to the recipient's public key, either
 * RSA-OAEP with SHA-256, or X25519 ECDH with an ephemeral key → HKDF-SHA256 → AES-256-GCM. The body is
 * signed by the tenant's audit key (Ed25519 over its RFC 8785 canonical bytes), so the recipient checks
 * where it came from. The wallet secret layout is `strongroom.wallet-secret/1` (see wallets.ts).
 */
import {
  constants,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  publicEncrypt,
  randomFillSync,
  type KeyObject,
} from 'node:crypto';
import { canonicalize, digestOfBytes, type Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { auditKeyBinding, signWithAuditKey } from './audit-key.ts';
import { concatBytes, toBase64, utf8, wipe } from './bytes.ts';
import { openCryptogram } from './cryptogram.ts';
import { gcmEncrypt, gcmKey } from './seal/aes-gcm.ts';
import type { Seal } from './seal/seal.ts';
import { fingerprintOfSecret, walletBinding } from './wallets.ts';
import type { ExportFile, VaultKeyRecord, VaultStorage } from './vault.ts';

export const EXPORT_FORMAT = 'strongroom.wallet-export/1';
export const EXPORT_HKDF_INFO = 'strongroom.wallet-export/1 key wrap';

export interface BuildExportFileParameters {
  tenant: string;
  seal: Seal;
  storage: VaultStorage;
  recipientPublicKey: Uint8Array;
  auditKey: VaultKeyRecord;
  now: () => Date;
}

/** Associated data of one wallet's entry. */
export function exportEntryAad(tenant: string, walletId: string, fingerprint: string): Uint8Array {
  return utf8(canonicalize({ format: EXPORT_FORMAT, tenant, walletId, fingerprint }));
}

export async function buildExportFile(p: BuildExportFileParameters): Promise<ExportFile> {
  const recipient = parseRecipient(p.recipientPublicKey);
  const exportKey = randomFillSync(new Uint8Array(32));
  try {
    const wrap = wrapExportKey(recipient, exportKey);
    const key = gcmKey(exportKey);
    const wallets: unknown[] = [];
    let after: string | null = null;
    for (;;) {
      const rows = await p.storage.listWallets(p.tenant, { after, limit: 1000 });
      for (const row of rows) {
        const secret = await openCryptogram(p.seal, walletBinding(p.tenant, row.walletId), row.cryptogram);
        try {
          if (fingerprintOfSecret(secret) !== row.fingerprint) {
            throw new StrongroomError(
              'E_CRYPTOGRAM_INVALID',
              'a wallet does not match its recorded fingerprint',
              {
                details: { walletId: row.walletId },
              },
            );
          }
          const sealed = gcmEncrypt(key, secret, exportEntryAad(p.tenant, row.walletId, row.fingerprint));
          wallets.push({
            walletId: row.walletId,
            tier: row.tier,
            label: row.label,
            fingerprint: row.fingerprint,
            network: row.network,
            xpubs: row.xpubs,
            secret: toBase64(sealed),
          });
        } finally {
          wipe(secret);
        }
      }
      if (rows.length < 1000) break;
      after = rows[rows.length - 1]!.walletId;
    }
    const body = {
      format: EXPORT_FORMAT,
      tenant: p.tenant,
      createdAt: p.now().toISOString(),
      secretFormat: 'strongroom.wallet-secret/1',
      recipient: { spkiSha256: digestOfBytes(p.recipientPublicKey), ...wrap },
      wallets,
    };
    const bodyBytes = utf8(canonicalize(body));
    const auditSecret = await openCryptogram(
      p.seal,
      auditKeyBinding(p.tenant, p.auditKey.keyId),
      p.auditKey.cryptogram,
    );
    let signature: Uint8Array;
    try {
      signature = signWithAuditKey(auditSecret, p.auditKey.publicKey, bodyBytes);
    } finally {
      wipe(auditSecret);
    }
    const file = { body, signature: { alg: 'Ed25519', keyId: p.auditKey.keyId, value: toBase64(signature) } };
    const bytes = utf8(JSON.stringify(file));
    const digest: Digest = digestOfBytes(bytes);
    return { bytes, wallets: wallets.length, digest };
  } finally {
    wipe(exportKey);
  }
}

function parseRecipient(spki: Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    if (!(spki instanceof Uint8Array)) throw new TypeError('not bytes');
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new StrongroomError('E_VALIDATION', 'recipientPublicKey must be a DER SPKI public key', {
      details: { parameter: 'recipientPublicKey' },
      cause,
    });
  }
  const type = key.asymmetricKeyType;
  const rsaBits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if ((type === 'rsa' && rsaBits >= 2048) || type === 'x25519') return key;
  throw new StrongroomError('E_VALIDATION', 'recipientPublicKey must be RSA (2048 bits or more) or X25519', {
    details: { parameter: 'recipientPublicKey', type },
  });
}

function wrapExportKey(recipient: KeyObject, exportKey: Uint8Array): Record<string, string> {
  if (recipient.asymmetricKeyType === 'rsa') {
    const wrapped = publicEncrypt(
      { key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      exportKey,
    );
    return { alg: 'RSA-OAEP-256', wrappedKey: toBase64(wrapped) };
  }
  const ephemeral = generateKeyPairSync('x25519');
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient });
  const ephemeralSpki = new Uint8Array(ephemeral.publicKey.export({ format: 'der', type: 'spki' }));
  const recipientSpki = new Uint8Array(recipient.export({ format: 'der', type: 'spki' }));
  const kek = new Uint8Array(
    hkdfSync('sha256', shared, concatBytes(ephemeralSpki, recipientSpki), EXPORT_HKDF_INFO, 32),
  );
  shared.fill(0);
  try {
    const wrapped = gcmEncrypt(gcmKey(kek), exportKey, utf8(EXPORT_FORMAT));
    return {
      alg: 'ECDH-X25519+HKDF-SHA256+A256GCM',
      ephemeralPublicKey: toBase64(ephemeralSpki),
      wrappedKey: toBase64(wrapped),
    };
  } finally {
    wipe(kek);
  }
}
