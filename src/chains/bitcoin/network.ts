/**
 * Bitcoin networks are data (as in viem's chains): everything that differs between mainnet, testnet and the
 * two regtest flavours lives here, so no code branches on a network's name.
 *
 * Regtest has two address flavours because the nodes disagree: Bitcoin Core uses the bech32 prefix `bcrt`,
 * bcoin uses `rb` (and its own base58 version bytes). Both are the same chain rules; pick the flavour that
 * matches the node you talk to.
 */
import { StrongroomError } from '../../domain/errors.ts';

export interface Bip32Versions {
  readonly public: number;
  readonly private: number;
}

export interface BitcoinNetwork {
  readonly name: BitcoinNetworkName;
  /** Human-readable part of bech32/bech32m (BIP173/BIP350) addresses. */
  readonly bech32: string;
  /** Base58Check version bytes of legacy P2PKH / P2SH addresses. */
  readonly pubKeyHash: number;
  readonly scriptHash: number;
  /** WIF version byte (only to satisfy @scure/btc-signer's network shape; we never export WIF). */
  readonly wif: number;
  /** Version bytes of the extended keys we emit and accept on this network (xpub/xprv or tpub/tprv). */
  readonly bip32: Bip32Versions;
  /** BIP44 coin type: 0 on mainnet, 1 on every test network (SLIP-44). */
  readonly coinType: 0 | 1;
}

export type BitcoinNetworkName = 'mainnet' | 'testnet' | 'regtest' | 'regtest-bcoin';

const XPUB: Bip32Versions = { public: 0x0488b21e, private: 0x0488ade4 };
const TPUB: Bip32Versions = { public: 0x043587cf, private: 0x04358394 };

export const BITCOIN_NETWORKS: Readonly<Record<BitcoinNetworkName, BitcoinNetwork>> = Object.freeze({
  mainnet: Object.freeze({
    name: 'mainnet',
    bech32: 'bc',
    pubKeyHash: 0x00,
    scriptHash: 0x05,
    wif: 0x80,
    bip32: XPUB,
    coinType: 0,
  }),
  testnet: Object.freeze({
    name: 'testnet',
    bech32: 'tb',
    pubKeyHash: 0x6f,
    scriptHash: 0xc4,
    wif: 0xef,
    bip32: TPUB,
    coinType: 1,
  }),
  regtest: Object.freeze({
    name: 'regtest',
    bech32: 'bcrt',
    pubKeyHash: 0x6f,
    scriptHash: 0xc4,
    wif: 0xef,
    bip32: TPUB,
    coinType: 1,
  }),
  // bcoin lib/protocol/networks.js: regtest addressPrefix {pubkeyhash 0x3c, scripthash 0x26, bech32 'rb'}, privkey 0x5a.
  'regtest-bcoin': Object.freeze({
    name: 'regtest-bcoin',
    bech32: 'rb',
    pubKeyHash: 0x3c,
    scriptHash: 0x26,
    wif: 0x5a,
    bip32: TPUB,
    coinType: 1,
  }),
} satisfies Record<BitcoinNetworkName, BitcoinNetwork>);

/** Looks a network up by name, or passes a network object through after checking it is one of ours. */
export function bitcoinNetwork(network: BitcoinNetworkName | BitcoinNetwork): BitcoinNetwork {
  const name = typeof network === 'string' ? network : network?.name;
  const found =
    typeof name === 'string' ? (BITCOIN_NETWORKS as Record<string, BitcoinNetwork>)[name] : undefined;
  if (!found) {
    throw new StrongroomError('E_VALIDATION', `unknown bitcoin network ${JSON.stringify(name)}`, {
      details: { parameter: 'network' },
      hints: [`known networks: ${Object.keys(BITCOIN_NETWORKS).join(', ')}`],
    });
  }
  return found;
}
