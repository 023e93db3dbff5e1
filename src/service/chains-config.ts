/**
 * Which chains a deployment talks to, and how: node endpoints, confirmations, fee floors and caps, and the
 * ERC-20 tokens it knows. Read from `<data>/chains.json` by `strongroom serve` and `strongroom worker` (the dev
 * chains write it), or given to `createStrongroom({ chains })` directly.
 *
 * The part that decides what may be signed (networks, chain id, token contracts, default fee caps) is also
 * given to the vault (`vaultChainsOf`), which builds the approved intent from it and the verified request.
 */
import { readFileSync } from 'node:fs';
import { createAssetRegistry, type AssetInfo, type AssetRegistry } from '../domain/assets.ts';
import { StrongroomError } from '../domain/errors.ts';
import type { BitcoinNetworkName } from '../chains/bitcoin/network.ts';
import type { BitcoinRpcConfig } from '../chains/bitcoin/rpc.ts';
import type { VaultChainsConfig } from '../vault/intents.ts';

export type { VaultChainsConfig };

export interface BitcoinChainConfig {
  readonly network: BitcoinNetworkName;
  /**
   * The node must keep a transaction index (Bitcoin Core `-txindex`, bcoin `--index-tx`): tracking asks it for
   * confirmed transactions by txid, and without the index a confirmed withdrawal would look unknown.
   */
  readonly rpc: BitcoinRpcConfig;
  /** Blocks deep before a deposit is credited or a withdrawal confirmed (default 1). */
  readonly confirmations?: number;
  /** sat/vB: the fee rate used is at least this (default 1). */
  readonly feeRateFloor?: number;
  /** sat/vB: never build above this (default 500). */
  readonly feeRateCap?: number;
  /** Default cap on a withdrawal's total fee, satoshis, when the request names none (default 100,000). */
  readonly maxFee?: string;
  /**
   * Whether the node relays transactions spending P2TR (taproot) coins (default true). bcoin has no taproot:
   * set false there, and coin selection leaves P2TR coins aside (they can still be received).
   */
  readonly spendTaproot?: boolean;
}

export interface EvmTokenConfig {
  readonly symbol: string;
  readonly contract: string;
  readonly decimals: number;
}

export interface EvmChainConfig {
  /** For humans and logs ("mainnet", "sepolia", "anvil"). */
  readonly network: string;
  /** Decimal string. */
  readonly chainId: string;
  readonly rpcUrl: string;
  /** Per-attempt node timeout, ms (default 10 s). */
  readonly timeoutMs?: number;
  readonly confirmations?: number;
  /** Default cap on a withdrawal's total fee (gasLimit × maxFeePerGas), wei, when the request names none. */
  readonly maxFee?: string;
  readonly tokens?: readonly EvmTokenConfig[];
}

export interface ChainsConfig {
  readonly bitcoin?: BitcoinChainConfig;
  readonly ethereum?: EvmChainConfig;
}

export const DEFAULTS = {
  confirmations: 1,
  feeRateFloor: 1,
  feeRateCap: 500,
  btcMaxFee: '100000',
  // 0.01 ETH
  evmMaxFee: '10000000000000000',
} as const;

export function tokensOf(c: ChainsConfig | undefined): AssetInfo[] {
  return (c?.ethereum?.tokens ?? []).map((t) => ({ symbol: t.symbol, chain: 'ethereum' as const, decimals: t.decimals, contract: t.contract }));
}

export function assetsOf(c: ChainsConfig | undefined): AssetRegistry {
  return createAssetRegistry(tokensOf(c));
}

export function vaultChainsOf(c: ChainsConfig | undefined): VaultChainsConfig {
  return {
    ...(c?.bitcoin ? { bitcoin: { network: c.bitcoin.network, maxFee: c.bitcoin.maxFee ?? DEFAULTS.btcMaxFee } } : {}),
    ...(c?.ethereum
      ? { ethereum: { network: c.ethereum.network, chainId: c.ethereum.chainId, maxFee: c.ethereum.maxFee ?? DEFAULTS.evmMaxFee } }
      : {}),
    tokens: tokensOf(c),
  };
}

/** Reads a chains file; a missing file means no chains (requests are recorded but nothing executes). */
export function loadChainsConfig(path: string): ChainsConfig | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new StrongroomError('E_VALIDATION', `${path} is not JSON`, { cause });
  }
  const c = parsed as ChainsConfig;
  if (c === null || typeof c !== 'object') throw new StrongroomError('E_VALIDATION', `${path} must hold an object`);
  assetsOf(c); // validates the tokens
  return c;
}
