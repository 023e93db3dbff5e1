/**
 * The approved intent of a withdrawal, built by the vault from the request it has just verified and its own
 * chains configuration (never from anything the caller hands over): network, chain id, token contract and the
 * fee cap come from here, destination and amount from the signed request.
 */
import { assetInfo, createAssetRegistry, type AssetInfo, type AssetRegistry } from '../domain/assets.ts';
import { StrongroomError } from '../domain/errors.ts';
import type { BitcoinNetworkName } from '../chains/bitcoin/network.ts';
import type { BitcoinTransferIntent, EvmTransferIntent } from './signers/intent.ts';

/** What the vault needs to build an approved intent: no endpoints, nothing secret. */
export interface VaultChainsConfig {
  readonly bitcoin?: { readonly network: BitcoinNetworkName; readonly maxFee: string };
  readonly ethereum?: { readonly network: string; readonly chainId: string; readonly maxFee: string };
  readonly tokens: readonly AssetInfo[];
}

export type WithdrawalIntent = BitcoinTransferIntent | EvmTransferIntent;

export function vaultAssets(chains: VaultChainsConfig | undefined): AssetRegistry {
  return createAssetRegistry(chains?.tokens ?? []);
}

function notConfigured(chain: string): StrongroomError {
  return new StrongroomError('E_CHAIN_NOT_CONFIGURED', `the vault has no ${chain} chain configured`, {
    details: { chain },
    hints: ['give the vault the chains configuration (chains.json) it signs for'],
  });
}

/** `payload` is the verified request's canonical payload (src/vault/evidence.ts transferPayloadOf). */
export function withdrawalIntent(payload: Readonly<Record<string, unknown>>, chains: VaultChainsConfig | undefined, assets: AssetRegistry): WithdrawalIntent {
  const asset = assetInfo(payload.asset, assets);
  const amount = BigInt(String(payload.amount));
  const destination = String(payload.to);
  if (asset.chain === 'bitcoin') {
    const c = chains?.bitcoin;
    if (!c) throw notConfigured('bitcoin');
    return {
      chain: 'bitcoin', network: c.network, asset: 'BTC', destination, amount,
      feeCap: BigInt(String(payload.maxFee ?? c.maxFee)), changePolicy: 'same-wallet',
    };
  }
  const c = chains?.ethereum;
  if (!c) throw notConfigured('ethereum');
  if (asset.contract !== undefined && payload.contract !== asset.contract) {
    throw new StrongroomError('E_EVIDENCE_INVALID', 'the request names another token contract than the vault knows', { details: { field: 'asset' } });
  }
  return {
    chain: 'ethereum', network: c.network, chainId: BigInt(c.chainId),
    asset: asset.contract === undefined ? 'ETH' : { symbol: asset.symbol, contract: asset.contract },
    destination, amount, feeCap: BigInt(String(payload.maxFee ?? c.maxFee)), addressIndex: 0,
  };
}
