import { StrongroomError } from './errors.ts';

/**
 * Chains and assets are data. BTC and ETH are built in; ERC-20 tokens come from configuration (the chains
 * configuration both the service and the vault read), each with its contract address, so a symbol always
 * means one contract on one chain.
 */
export interface AssetInfo {
  readonly symbol: string;
  readonly chain: 'bitcoin' | 'ethereum';
  readonly decimals: number;
  /** ERC-20 contract address (EIP-55) for a token; absent for a chain's native coin. */
  readonly contract?: string;
}

export type AssetRegistry = ReadonlyMap<string, AssetInfo>;

export const BUILTIN_ASSETS: Readonly<Record<string, AssetInfo>> = Object.freeze({
  BTC: { symbol: 'BTC', chain: 'bitcoin', decimals: 8 },
  ETH: { symbol: 'ETH', chain: 'ethereum', decimals: 18 },
});

const SYMBOL_RE = /^[A-Z0-9][A-Z0-9._-]{0,15}$/;

/** The built-in assets plus `tokens`; a token may not reuse a built-in symbol or another token's. */
export function createAssetRegistry(tokens: readonly AssetInfo[] = []): AssetRegistry {
  const m = new Map<string, AssetInfo>(Object.entries(BUILTIN_ASSETS));
  for (const t of tokens) {
    if (!SYMBOL_RE.test(t.symbol) || m.has(t.symbol)) {
      throw new StrongroomError('E_VALIDATION', `asset symbol ${JSON.stringify(t.symbol)} is invalid or already taken`, {
        details: { field: 'symbol' },
      });
    }
    if (!Number.isInteger(t.decimals) || t.decimals < 0 || t.decimals > 36) {
      throw new StrongroomError('E_VALIDATION', `decimals of ${t.symbol} must be an integer from 0 to 36`, { details: { field: 'decimals' } });
    }
    if (t.chain === 'ethereum' && (typeof t.contract !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(t.contract))) {
      throw new StrongroomError('E_VALIDATION', `token ${t.symbol} needs its contract address`, { details: { field: 'contract' } });
    }
    m.set(t.symbol, Object.freeze({ ...t }));
  }
  return m;
}

export const DEFAULT_ASSETS: AssetRegistry = createAssetRegistry();

export function assetInfo(symbol: unknown, registry: AssetRegistry = DEFAULT_ASSETS): AssetInfo {
  const info = typeof symbol === 'string' ? registry.get(symbol) : undefined;
  if (!info) {
    throw new StrongroomError('E_UNKNOWN_ASSET', `unknown asset ${JSON.stringify(symbol)}`, {
      details: { field: 'asset' },
      hints: [`known assets: ${[...registry.keys()].join(', ')}`],
    });
  }
  return info;
}
