/**
 * Deriving a wallet's addresses from the account xpubs the vault published (no key material): BIP84 P2WPKH
 * and BIP86 P2TR for Bitcoin (receive chain 0, change chain 1), BIP44 m/44'/60'/0'/0/i for EVM chains.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { deriveP2trAddress, deriveP2wpkhAddress } from '../chains/bitcoin/address.ts';
import { bitcoinNetwork, type BitcoinNetworkName } from '../chains/bitcoin/network.ts';
import { deriveEvmAddress } from '../chains/evm/address.ts';
import { StrongroomError } from '../domain/errors.ts';
import type { Queryable } from '../store/index.ts';
import { walletAddressesRepository, type AddressKind, type WalletAddress } from '../store/repositories/wallet-addresses-repository.ts';
import type { WalletInfo } from '../vault/vault.ts';

export function deriveWalletAddress(
  tenantId: string,
  wallet: WalletInfo,
  kind: AddressKind,
  change: 0 | 1,
  index: number,
  network: BitcoinNetworkName,
  at: string,
): WalletAddress {
  const base = { tenantId, walletId: wallet.walletId, kind, change, index, createdAt: at };
  if (kind === 'evm') {
    if (change !== 0) throw new StrongroomError('E_VALIDATION', 'EVM addresses have no change chain', { details: { parameter: 'change' } });
    const d = deriveEvmAddress(wallet.xpubs.bip44eth, index);
    return { ...base, chain: 'ethereum', address: d.address, path: `m/44'/60'/0'/${d.relativePath}`, publicKey: bytesToHex(d.publicKey), script: '' };
  }
  const net = bitcoinNetwork(network);
  const purpose = kind === 'p2wpkh' ? 84 : 86;
  const d = kind === 'p2wpkh'
    ? deriveP2wpkhAddress(wallet.xpubs.bip84, net, change, index)
    : deriveP2trAddress(wallet.xpubs.bip86, net, change, index);
  return {
    ...base, chain: 'bitcoin', address: d.address, path: `m/${purpose}'/${net.coinType}'/0'/${d.relativePath}`,
    publicKey: bytesToHex(d.publicKey), script: bytesToHex(d.script),
  };
}

/** Allocates and stores the next address of (wallet, kind, change). Call inside the writer's transaction. */
export async function nextWalletAddress(
  q: Queryable,
  tenantId: string,
  wallet: WalletInfo,
  kind: AddressKind,
  change: 0 | 1,
  network: BitcoinNetworkName,
  at: string,
): Promise<WalletAddress> {
  const index = await walletAddressesRepository.nextIndex(q, tenantId, wallet.walletId, kind, change);
  return walletAddressesRepository.ensure(q, deriveWalletAddress(tenantId, wallet, kind, change, index, network, at));
}

/** The wallet's EVM sending address (index 0), stored on first use. */
export async function evmPrimaryAddress(q: Queryable, tenantId: string, wallet: WalletInfo, at: string): Promise<WalletAddress> {
  return walletAddressesRepository.ensure(q, deriveWalletAddress(tenantId, wallet, 'evm', 0, 0, 'mainnet', at));
}
