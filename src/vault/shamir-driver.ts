/**
 * `TenantSeal` over `ShamirSeal` (the software seal). Share files cross the vault's interface as their
 * UTF-8 JSON bytes (ciphertext only), exactly as a custodian stores them.
 *
 * Init unseals right away with the custodians who are present anyway (the first M), so the vault can seal
 * the tenant's audit key at the ceremony, as the PKCS#11 seal does. Rotate may take share files to hand
 * back refreshed ones carrying the new master key (no passphrase needed).
 *
 * `ShamirSeal` takes passphrases as strings; bytes given to the vault are decoded here (a string copy then
 * lives until garbage collection: a residual risk documented in SECURITY.md).
 */
import { StrongroomError } from '../domain/errors.ts';
import { utf8 } from './bytes.ts';
import { ShamirSeal, type Custodian, type PresentedShare } from './seal/shamir-seal.ts';
import type { SealStorage } from './seal/seal-storage.ts';
import { parseShareFile, serializeShareFile, type ScryptCost, type ShareFile } from './seal/share-file.ts';
import { wrongMechanism, type SealDriver, type TenantSeal } from './seal-driver.ts';
import type { IssuedShareFile, ShamirCustodian, ShamirSharePresentation } from './vault.ts';

export interface ShamirDriverOptions {
  storage: SealStorage;
  /** Test suites only: a cheaper scrypt for share files. */
  scrypt?: Partial<ScryptCost>;
}

const DEC = new TextDecoder('utf-8', { fatal: true });

function passphraseText(p: Uint8Array | string, parameter: string): string {
  if (typeof p === 'string') return p;
  if (p instanceof Uint8Array) return DEC.decode(p);
  throw new StrongroomError('E_VALIDATION', `${parameter} must be bytes or a string`, {
    details: { parameter },
  });
}

function presented(shares: ShamirSharePresentation[] | undefined): PresentedShare[] {
  if (!Array.isArray(shares)) {
    throw new StrongroomError('E_SHARES_INSUFFICIENT', 'no shares were presented', {
      details: { parameter: 'shares' },
    });
  }
  return shares.map((s, i) => ({
    file: parseShareFile(s?.file),
    passphrase: passphraseText(s?.passphrase, `shares[${i}].passphrase`),
  }));
}

function custodians(list: ShamirCustodian[] | undefined): Custodian[] {
  if (!Array.isArray(list))
    throw new StrongroomError('E_VALIDATION', 'custodians must be a list', {
      details: { parameter: 'custodians' },
    });
  return list.map((c, i) => ({
    id: c?.name,
    passphrase: passphraseText(c?.passphrase, `custodians[${i}].passphrase`),
  }));
}

function issued(files: ShareFile[]): IssuedShareFile[] {
  return files.map((f) => ({ custodian: f.custodian, index: f.index, file: utf8(serializeShareFile(f)) }));
}

export function shamirDriver(options: ShamirDriverOptions): SealDriver {
  const { storage } = options;
  const cost = options.scrypt ? { scrypt: options.scrypt } : {};
  return {
    mechanism: 'shamir',
    async open(tenant) {
      let seal = await ShamirSeal.open({ tenant, storage });
      const ts: TenantSeal = {
        mechanism: 'shamir',
        tenant,
        get seal() {
          return seal.state() === 'uninitialized' ? undefined : seal;
        },
        state: () => seal.state(),
        async initialize(p) {
          if (p.mechanism !== 'shamir') throw wrongMechanism('shamir', p.mechanism);
          const people = custodians(p.custodians);
          const r = await ShamirSeal.initialize({
            tenant,
            storage,
            custodians: people,
            threshold: p.threshold,
            ...cost,
          });
          await seal.close();
          seal = r.seal;
          const quorum = r.shareFiles
            .slice(0, p.threshold)
            .map((file, i) => ({ file, passphrase: people[i]!.passphrase }));
          await seal.unseal(quorum);
          return { shareFiles: issued(r.shareFiles), fingerprint: r.shareFiles[0]?.fingerprint ?? '' };
        },
        async unseal(p) {
          if (p.mechanism !== 'shamir') throw wrongMechanism('shamir', p.mechanism);
          await seal.unseal(presented(p.shares));
        },
        lock: () => seal.seal(),
        zeroize: () => seal.zeroize(),
        async restore(p) {
          if (p.mechanism !== 'shamir') throw wrongMechanism('shamir', p.mechanism);
          await seal.restore(presented(p.shares));
        },
        async rekey(p) {
          const files = await seal.rekey(presented(p.shares), custodians(p.custodians), p.threshold, cost);
          return { shareFiles: issued(files), fingerprint: files[0]?.fingerprint ?? '' };
        },
        async rotate(p) {
          if (p.mechanism !== 'shamir') throw wrongMechanism('shamir', p.mechanism);
          const masterKey = await seal.rotate();
          if (!p.shares?.length) return { masterKey };
          const refreshed = await seal.refreshShareFiles(p.shares.map((s) => parseShareFile(s.file)));
          return { masterKey, shareFiles: issued(refreshed) };
        },
        retire: (ref) => seal.retire(ref),
        async checkQuorum(p) {
          if (p.mechanism !== 'shamir') throw wrongMechanism('shamir', p.mechanism);
          // A second, private instance rebuilds the unseal key from the shares and opens the keyring; the
          // tenant's own seal is not touched. Its failure is the custodians' error (wrong share, too few).
          const probe = await ShamirSeal.open({ tenant, storage });
          try {
            if (probe.current().version !== seal.current().version) {
              throw new StrongroomError('E_CONFLICT', 'the seal changed under the quorum check; try again');
            }
            await probe.unseal(presented(p.shares));
          } finally {
            await probe.close();
          }
        },
        close: () => seal.close(),
      };
      return ts;
    },
  };
}
