import pkcs11js from 'pkcs11js';
import { StrongroomError } from '../../../domain/errors.ts';
import { hsmCall } from './hsm-error.ts';

/**
 * A loaded PKCS#11 module, shared by every seal of this process that names the same library path.
 *
 * Why shared: a PKCS#11 library is initialised once per process (a second C_Initialize fails with
 * CKR_CRYPTOKI_ALREADY_INITIALIZED) and login state is per token per process, not per session. The last
 * `release()` finalises the library, so a later acquire re-reads the module's configuration (SoftHSM reads
 * SOFTHSM2_CONF at C_Initialize).
 */
export interface Pkcs11Module {
  readonly path: string;
  readonly p11: pkcs11js.PKCS11;
  /** The slot holding the token with this label (labels are space-padded in CK_TOKEN_INFO). */
  findSlot(tokenLabel: string): pkcs11js.Handle;
  /** Mechanisms the token in `slot` supports. */
  mechanisms(slot: pkcs11js.Handle): Set<number>;
  /**
   * Records which seal is logged in to a token: PKCS#11 login is per token per process, so a second seal
   * on the same token would skip the PIN check (CKR_USER_ALREADY_LOGGED_IN) and a seal() of one would log
   * out the other. One logged-in seal per token; use one token per tenant.
   */
  claimLogin(slot: pkcs11js.Handle, owner: object): void;
  releaseLogin(slot: pkcs11js.Handle, owner: object): void;
  release(): void;
}

interface Loaded {
  p11: pkcs11js.PKCS11;
  refs: number;
  logins: Map<string, object>;
}

const loaded = new Map<string, Loaded>();

/** Whether this process currently has the library initialised (tests use it to create tokens safely). */
export function pkcs11ModuleInUse(path: string): boolean {
  return loaded.has(path);
}

export function acquirePkcs11Module(path: string): Pkcs11Module {
  if (typeof path !== 'string' || path.length === 0) {
    throw new StrongroomError('E_VALIDATION', 'modulePath must be a non-empty path', {
      details: { parameter: 'modulePath' },
    });
  }
  let entry = loaded.get(path);
  if (!entry) {
    const p11 = new pkcs11js.PKCS11();
    hsmCall('load module', () => p11.load(path));
    try {
      hsmCall('initialize', () => p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK }));
    } catch (e) {
      p11.close();
      throw e;
    }
    entry = { p11, refs: 0, logins: new Map() };
    loaded.set(path, entry);
  }
  entry.refs++;
  const e = entry;
  let released = false;
  const slotKey = (slot: pkcs11js.Handle) => slot.toString('hex');
  return {
    path,
    p11: e.p11,
    findSlot(tokenLabel) {
      const slots = hsmCall('list slots', () => e.p11.C_GetSlotList(true));
      for (const slot of slots) {
        const info = hsmCall('read token info', () => e.p11.C_GetTokenInfo(slot));
        if (info.label.trimEnd() === tokenLabel) return slot;
      }
      throw new StrongroomError('E_HSM', 'no token with this label is present', {
        details: { tokenLabel },
        hints: ['check the token label in the seal configuration', 'softhsm2-util --show-slots lists tokens'],
      });
    },
    mechanisms(slot) {
      return new Set(hsmCall('list mechanisms', () => e.p11.C_GetMechanismList(slot)));
    },
    claimLogin(slot, owner) {
      const holder = e.logins.get(slotKey(slot));
      if (holder && holder !== owner) {
        throw new StrongroomError('E_CONFLICT', 'another seal in this process is logged in to this token', {
          hints: ['use one token per tenant', 'seal the other tenant first'],
        });
      }
      e.logins.set(slotKey(slot), owner);
    },
    releaseLogin(slot, owner) {
      if (e.logins.get(slotKey(slot)) === owner) e.logins.delete(slotKey(slot));
    },
    release() {
      if (released) return;
      released = true;
      if (--e.refs > 0) return;
      loaded.delete(path);
      try {
        e.p11.C_Finalize();
      } finally {
        e.p11.close();
      }
    },
  };
}
