/**
 * The recipient's side of a wallet export (src/vault/export-file.ts), for tests: checks the audit-key
 * signature, unwraps the export key with the recipient's private key and opens every wallet secret.
 */
import {
  constants,
  createDecipheriv,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  privateDecrypt,
  verify,
  type KeyObject,
} from 'node:crypto';
import { canonicalize } from '../../src/domain/canonical.ts';
import { EXPORT_FORMAT, EXPORT_HKDF_INFO, exportEntryAad } from '../../src/vault/export-file.ts';
import { fingerprintOfSecret } from '../../src/vault/wallets.ts';

interface ExportedWallet {
  walletId: string;
  fingerprint: string;
  xpubs: { bip84: string; bip86: string; bip44eth: string };
  secret: string;
}

function gcmOpen(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const out = d.update(sealed.subarray(12, sealed.length - 16));
  d.final();
  return out;
}

export function openTestExport(bytes: Uint8Array, recipient: KeyObject, auditPublicKey: Uint8Array) {
  const file = JSON.parse(Buffer.from(bytes).toString('utf8')) as {
    body: { format: string; tenant: string; recipient: Record<string, string>; wallets: ExportedWallet[] };
    signature: { value: string };
  };
  const pub = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(auditPublicKey).toString('base64url') },
    format: 'jwk',
  });
  const signatureValid = verify(
    null,
    Buffer.from(canonicalize(file.body)),
    pub,
    Buffer.from(file.signature.value, 'base64'),
  );
  const r = file.body.recipient;
  let exportKey: Uint8Array;
  if (r.alg === 'RSA-OAEP-256') {
    exportKey = privateDecrypt(
      { key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(r.wrappedKey!, 'base64'),
    );
  } else {
    const eph = Buffer.from(r.ephemeralPublicKey!, 'base64');
    const shared = diffieHellman({
      privateKey: recipient,
      publicKey: createPublicKey({ key: eph, format: 'der', type: 'spki' }),
    });
    const recipientSpki = createPublicKey(recipient).export({ format: 'der', type: 'spki' });
    const kek = new Uint8Array(
      hkdfSync('sha256', shared, Buffer.concat([eph, recipientSpki]), EXPORT_HKDF_INFO, 32),
    );
    exportKey = gcmOpen(kek, Buffer.from(r.wrappedKey!, 'base64'), new TextEncoder().encode(EXPORT_FORMAT));
  }
  const secrets = file.body.wallets.map(
    (w) =>
      new Uint8Array(
        gcmOpen(
          exportKey,
          Buffer.from(w.secret, 'base64'),
          exportEntryAad(file.body.tenant, w.walletId, w.fingerprint),
        ),
      ),
  );
  const secretFingerprints = secrets.map((s) => fingerprintOfSecret(s));
  return { signatureValid, wallets: file.body.wallets, secrets, secretFingerprints };
}
