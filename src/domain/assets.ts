import { StrongroomError } from './errors.ts';

/** Chains and assets are data. ERC-20 tokens are added per tenant by a later issue. */
export interface AssetInfo {
  readonly symbol: string;
  readonly chain: 'bitcoin' | 'ethereum';
  readonly decimals: number;
}

export const BUILTIN_ASSETS: Readonly<Record<string, AssetInfo>> = Object.freeze({
  BTC: { symbol: 'BTC', chain: 'bitcoin', decimals: 8 },
  ETH: { symbol: 'ETH', chain: 'ethereum', decimals: 18 },
});

export function assetInfo(symbol: unknown): AssetInfo {
  const info = typeof symbol === 'string' ? BUILTIN_ASSETS[symbol] : undefined;
  if (!info) {
    throw new StrongroomError('E_UNKNOWN_ASSET', `unknown asset ${JSON.stringify(symbol)}`, {
      details: { field: 'asset' },
      hints: [`known assets: ${Object.keys(BUILTIN_ASSETS).join(', ')}`],
    });
  }
  return info;
}
