/**
 * Address-poisoning guard. Attackers grind vanity addresses that share the first and last few characters of
 * an address the victim uses, then plant them in the victim's history, hoping a copy-paste picks the fake.
 * People check the ends of an address, so an address that matches an address-book entry at both ends but
 * differs in the middle is refused with `E_ADDRESS_LOOKALIKE`.
 *
 * Comparison happens after the prefix (bech32 `hrp1`, or `0x`), case-insensitively (EIP-55 case is only a
 * checksum; bech32 is case-insensitive by definition).
 */
import { StrongroomError } from '../domain/errors.ts';

export interface AddressBookEntry {
  readonly address: string;
  /** Shown to a human in the error, e.g. "Treasury cold wallet". */
  readonly label?: string;
}

/** Characters that must match at each end for two addresses to count as look-alikes. */
export const LOOKALIKE_AFFIX = 4;

/**
 * Throws `E_ADDRESS_LOOKALIKE` when `address` differs from an entry of `addressBook` but shares its first and
 * last `affix` (default 4) characters after the prefix. An exact match (same address) passes.
 * @example assertNotLookalike('0xAbCd…', [{ address: '0xabcd…', label: 'exchange' }])
 */
export function assertNotLookalike(
  address: string,
  addressBook: ReadonlyArray<AddressBookEntry | string>,
  affix: number = LOOKALIKE_AFFIX,
): void {
  if (!Number.isSafeInteger(affix) || affix < 4) {
    throw new StrongroomError('E_VALIDATION', 'affix must be an integer ≥ 4', {
      details: { parameter: 'affix' },
    });
  }
  const body = addressBody(address);
  for (const item of addressBook) {
    const entry = typeof item === 'string' ? { address: item } : item;
    const other = addressBody(entry.address);
    if (body === other) continue;
    if (body.length < affix * 2 || other.length < affix * 2) continue;
    if (body.slice(0, affix) === other.slice(0, affix) && body.slice(-affix) === other.slice(-affix)) {
      throw new StrongroomError(
        'E_ADDRESS_LOOKALIKE',
        'address looks like an address-book entry but is a different address',
        {
          details: { field: 'destination', lookalikeOf: entry.address, label: entry.label ?? null },
          hints: ['compare the whole address with its source; this pattern is typical of address poisoning'],
        },
      );
    }
  }
}

/** The part of an address a human compares: after `0x` or the bech32 `hrp1`, lowercased. */
export function addressBody(address: string): string {
  const lower = address.trim().toLowerCase();
  if (lower.startsWith('0x')) return lower.slice(2);
  const sep = lower.lastIndexOf('1');
  // bech32: hrp is 1..83 chars followed by "1"; the data part has no "1" in its alphabet.
  if (sep > 0 && /^[a-z]{1,83}1[02-9ac-hj-np-z]+$/.test(lower)) return lower.slice(sep + 1);
  return lower;
}
