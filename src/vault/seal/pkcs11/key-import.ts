import type pkcs11js from 'pkcs11js';
import { StrongroomError } from '../../../domain/errors.ts';
import { wipe } from '../../bytes.ts';
import { combineKeyComponents, kcvFromZeroBlock, keyCheckValue } from './key-components.ts';
import type { TokenSession } from './token-session.ts';

export const ZERO_BLOCK = new Uint8Array(16);

/** What custodians compare at a ceremony: the combined key's KCV and each component's own. */
export interface ComponentCheck {
  kcv: string;
  componentKcvs: string[];
}

/**
 * Validates the components and computes their check values on the host, before anything touches the
 * token. With `expectedKcv` (a restore), a set that rebuilds another key fails with
 * `E_KEY_MATERIAL_INVALID`, naming both KCVs (they are not secret).
 */
export function checkComponents(components: readonly Uint8Array[], expectedKcv?: string): ComponentCheck {
  const combined = combineKeyComponents(components);
  let kcv: string;
  try {
    kcv = keyCheckValue(combined);
  } finally {
    wipe(combined);
  }
  if (expectedKcv !== undefined && kcv !== expectedKcv) {
    throw new StrongroomError(
      'E_KEY_MATERIAL_INVALID',
      'these key components do not rebuild the recorded master key',
      {
        details: { expectedKcv, actualKcv: kcv },
        hints: ['each custodian checks their component KCV against the one noted at the ceremony'],
      },
    );
  }
  return { kcv, componentKcvs: components.map((c) => keyCheckValue(c)) };
}

/**
 * Combines the components, imports the result as the master key object and wipes it at once, then has
 * the token compute the KCV: it must equal `expectedKcv` (computed on the host by `checkComponents`),
 * which proves the token holds exactly the key the custodians built.
 */
export function importFromComponents(
  session: TokenSession,
  label: string,
  components: readonly Uint8Array[],
  expectedKcv: string,
): pkcs11js.Handle {
  const combined = combineKeyComponents(components);
  let handle: pkcs11js.Handle;
  try {
    handle = session.importMasterKey(label, label, combined);
  } finally {
    wipe(combined);
  }
  const kcv = tokenKeyCheckValue(session, handle);
  if (kcv !== expectedKcv) {
    session.destroy(handle);
    throw new StrongroomError('E_HSM', 'the token computed another KCV for the imported key', {
      details: { expectedKcv, actualKcv: kcv },
    });
  }
  return handle;
}

/** KCV of a key object, computed inside the token (AES-ECB of the zero block). */
export function tokenKeyCheckValue(session: TokenSession, key: pkcs11js.Handle): string {
  return kcvFromZeroBlock(session.encryptBlock(key, ZERO_BLOCK));
}
