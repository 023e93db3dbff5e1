import type { HDKey } from '@scure/bip32';
import { StrongroomError } from '../domain/errors.ts';

/**
 * Refuses what must never reach the untrusted side of the vault: a private extended key, or a key that is
 * not an account key (depth 3, e.g. m/84'/0'/0'). Wipes a private key before refusing it.
 */
export function assertPublicAccountKey(key: HDKey): HDKey {
  if (key.privateKey) {
    key.wipePrivateData();
    throw new StrongroomError(
      'E_VALIDATION',
      'xpub is a private extended key; only public keys are accepted here',
      {
        details: { parameter: 'xpub' },
      },
    );
  }
  if (key.depth !== 3) {
    throw new StrongroomError(
      'E_VALIDATION',
      `xpub must be an account key (depth 3), got depth ${key.depth}`,
      {
        details: { parameter: 'xpub' },
      },
    );
  }
  return key;
}
