/**
 * `TenantSeal` over `Pkcs11Seal`: one token per tenant (PKCS#11 login is per token), named by
 * configuration. Ceremonies: init and rotate from custodians' key components (IBM style), unseal with the
 * token PIN, restore from the same components after a zeroize. There is no rekey: the components are the
 * custodians' material and never change without a new key (rotate).
 */
import { StrongroomError } from '../domain/errors.ts';
import { combineKeyComponents, keyCheckValue } from './seal/pkcs11/key-components.ts';
import { Pkcs11Seal, type Pkcs11SealConfig } from './seal/pkcs11-seal.ts';
import { unsupported, wrongMechanism, type SealDriver, type TenantSeal } from './seal-driver.ts';

export interface Pkcs11DriverOptions {
  /** The token of each tenant: module path and token label (the PIN is never configuration). */
  tokenFor(tenant: string): Pkcs11SealConfig;
}

export function pkcs11Driver(options: Pkcs11DriverOptions): SealDriver {
  return {
    mechanism: 'pkcs11',
    async open(tenant) {
      const config = options.tokenFor(tenant);
      let seal: Pkcs11Seal = await Pkcs11Seal.open({ tenant, config });
      const ts: TenantSeal = {
        mechanism: 'pkcs11',
        tenant,
        get seal() {
          return seal.state() === 'uninitialized' ? undefined : seal;
        },
        state: () => seal.state(),
        async initialize(p) {
          if (p.mechanism !== 'pkcs11') throw wrongMechanism('pkcs11', p.mechanism);
          // Pkcs11Seal.initialize opens its own handle: close ours first (one login per token per process).
          await seal.close();
          try {
            const r = await Pkcs11Seal.initialize({ tenant, config, pin: p.pin, components: p.components });
            seal = r.seal;
            // Leave it unsealed like the Shamir ceremony, so the vault seals the audit key at once.
            if (seal.state() === 'sealed') await seal.unseal({ pin: p.pin });
            return { kcv: r.kcv, componentKcvs: r.componentKcvs };
          } catch (e) {
            seal = await Pkcs11Seal.open({ tenant, config });
            throw e;
          }
        },
        async unseal(p) {
          if (p.mechanism !== 'pkcs11') throw wrongMechanism('pkcs11', p.mechanism);
          await seal.unseal({ pin: p.pin });
        },
        lock: () => seal.seal(),
        zeroize: (p) => seal.zeroize(p.pin === undefined ? {} : { pin: p.pin }),
        async restore(p) {
          if (p.mechanism !== 'pkcs11') throw wrongMechanism('pkcs11', p.mechanism);
          await seal.restore({
            pin: p.pin,
            components: p.components,
            ...(p.version ? { version: p.version } : {}),
          });
        },
        async rekey() {
          throw unsupported('pkcs11', 'rekey');
        },
        async rotate(p) {
          if (p.mechanism !== 'pkcs11') throw wrongMechanism('pkcs11', p.mechanism);
          const r = await seal.rotate({ components: p.components });
          return { masterKey: r.ref, kcv: r.kcv, componentKcvs: r.componentKcvs };
        },
        retire: (ref) => seal.retire(ref),
        async checkQuorum(p) {
          if (p.mechanism !== 'pkcs11') throw wrongMechanism('pkcs11', p.mechanism);
          // The custodians prove presence by bringing the components of the current key: same KCV.
          const combined = combineKeyComponents(p.components);
          let kcv: string;
          try {
            kcv = keyCheckValue(combined);
          } finally {
            combined.fill(0);
          }
          if (kcv !== seal.keyCheckValue()) {
            throw new StrongroomError(
              'E_QUORUM_INCOMPLETE',
              'these key components do not build the current master key',
              {
                hints: ['every custodian brings the component of the current key version'],
              },
            );
          }
        },
        close: () => seal.close(),
      };
      return ts;
    },
  };
}
