/**
 * Checks a transfer's destination before anything is recorded: a well-formed address of the configured
 * network (bech32/bech32m checksum, witness version and network for Bitcoin; EIP-55 checksum for EVM), and
 * not a look-alike of an address-book entry (same first and last characters, different address), the
 * address-poisoning pattern (`E_ADDRESS_LOOKALIKE`).
 */
import { parseBitcoinAddress } from '../chains/bitcoin/address.ts';
import { parseEvmAddress } from '../chains/evm/address.ts';
import { assertNotLookalike } from '../chains/lookalike.ts';
import type { GovernanceState } from '../governance/index.ts';
import type { ChainsConfig } from './chains-config.ts';

export type DestinationCheck = (tenant: string, payload: Readonly<Record<string, unknown>>) => Promise<void>;

export function createDestinationCheck(deps: {
  chains: ChainsConfig | undefined;
  /** The governance state in force for the tenant (its address book), or undefined before the genesis. */
  state: (tenant: string) => Promise<GovernanceState | undefined>;
}): DestinationCheck {
  return async (tenant, payload) => {
    const chain = String(payload.chain);
    const to = String(payload.to);
    if (chain === 'bitcoin' && deps.chains?.bitcoin) parseBitcoinAddress(to, deps.chains.bitcoin.network);
    if (chain === 'ethereum' && deps.chains?.ethereum) parseEvmAddress(to);
    const state = await deps.state(tenant);
    if (!state) return;
    const book = Object.values(state.addressBook)
      .filter((e) => e.chain === chain)
      .map((e) => ({ address: e.address, label: e.alias }));
    assertNotLookalike(to, book);
  };
}
