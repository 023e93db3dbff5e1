/**
 * TEST-ONLY: rebuilds a Shamir-sealed tenant's raw master keys from share files and passphrases, the way
 * the seal does, so the secret-scan test knows what bytes must never appear anywhere. Never import from src.
 */
import { combine } from 'shamir-secret-sharing';
import { decryptMasterKey } from '../../src/vault/seal/keyring.ts';
import { gcmKey } from '../../src/vault/seal/aes-gcm.ts';
import { decryptShareFile, parseShareFile } from '../../src/vault/seal/share-file.ts';

export async function peekMasterKeys(
  tenant: string,
  shares: Array<{ file: Uint8Array; passphrase: string }>,
): Promise<Uint8Array[]> {
  const files = shares.map((s) => parseShareFile(s.file));
  const raw = await Promise.all(files.map((f, i) => decryptShareFile(f, shares[i]!.passphrase)));
  const unsealKey = gcmKey(await combine(raw));
  const keyring = files[0]!.masterKeys;
  return keyring.keys.map((entry) => decryptMasterKey(unsealKey, tenant, keyring.keyId, entry));
}
