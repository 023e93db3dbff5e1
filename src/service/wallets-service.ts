/**
 * Wallets as the API shows them: created in the vault (which audits `vault.wallet.create` before it acts),
 * then given their first receive addresses, derived here from the account xpubs the vault published (public
 * data only): P2WPKH and P2TR m/…/0/0 when a Bitcoin chain is configured, the EVM address m/44'/60'/0'/0/0
 * when an Ethereum chain is. Every stored address is watched by the deposit scanner.
 */
import type { BitcoinNetworkName } from '../chains/bitcoin/network.ts';
import type { AssetRegistry } from '../domain/assets.ts';
import { digestOf } from '../domain/canonical.ts';
import { StrongroomError, isStrongroomError } from '../domain/errors.ts';
import type { Database } from '../store/database.ts';
import { authRepository, directoryRepository, type Queryable } from '../store/index.ts';
import { vaultRepository } from '../store/repositories/vault-repository.ts';
import {
  walletAddressesRepository,
  type AddressKind,
  type WalletAddress,
} from '../store/repositories/wallet-addresses-repository.ts';
import type { Vault, WalletInfo, WalletTier } from '../vault/vault.ts';
import type { AuditedWriter } from './audited-writer.ts';
import type { ChainsConfig } from './chains-config.ts';
import { createDepositsService } from './deposits-service.ts';
import type { Principal, Reply } from './principal.ts';
import { signedWrite } from './signed-change.ts';
import { deriveWalletAddress } from './wallet-addresses.ts';

export interface CreateWalletInput {
  walletId: string;
  tier: WalletTier;
  label?: string;
}

export interface NewAddressInput {
  chain: 'bitcoin' | 'ethereum';
  kind: AddressKind;
}

export interface AddressView {
  chain: 'bitcoin' | 'ethereum';
  kind: AddressKind;
  /** 0 receive, 1 change. */
  change: number;
  index: number;
  address: string;
  /** Absolute derivation path from the wallet's master. */
  path: string;
  createdAt: string;
}

export interface WalletView {
  walletId: string;
  tier: WalletTier;
  label: string;
  /** BIP32 master fingerprint, 8 hex digits. */
  fingerprint: string;
  /** Bitcoin network of the account xpubs. */
  network: string;
  xpubs: { bip84: string; bip86: string; bip44eth: string };
  createdAt: string;
}

export interface WalletDetailView extends WalletView {
  /** Receive addresses (change addresses are listed by GET …/addresses). */
  addresses: AddressView[];
}

export interface WalletsServiceDeps {
  writer: AuditedWriter;
  db: Queryable;
  now: () => Date;
  database: Database;
  vault: Pick<Vault, 'createWallet' | 'wallet'>;
  chains: ChainsConfig | undefined;
}

const KINDS: Record<NewAddressInput['chain'], readonly AddressKind[]> = { bitcoin: ['p2wpkh', 'p2tr'], ethereum: ['evm'] };

function walletView(w: Pick<WalletInfo, 'walletId' | 'tier' | 'label' | 'fingerprint' | 'network' | 'xpubs' | 'createdAt'>): WalletView {
  return {
    walletId: w.walletId, tier: w.tier, label: w.label, fingerprint: w.fingerprint, network: w.network,
    xpubs: { bip84: w.xpubs.bip84, bip86: w.xpubs.bip86, bip44eth: w.xpubs.bip44eth }, createdAt: w.createdAt,
  };
}

function addressView(a: WalletAddress): AddressView {
  return { chain: a.chain, kind: a.kind, change: a.change, index: a.index, address: a.address, path: a.path, createdAt: a.createdAt };
}

export function createWalletsService(deps: WalletsServiceDeps) {
  const { writer, db, now, vault, chains } = deps;

  /** Bitcoin addresses of a wallet need the configured network to be the one its xpubs were made for. */
  function bitcoinNetworkFor(w: WalletInfo): BitcoinNetworkName {
    const network = chains?.bitcoin?.network;
    if (!network) {
      throw new StrongroomError('E_CHAIN_NOT_CONFIGURED', 'no bitcoin chain is configured', { hints: ['add it to chains.json'] });
    }
    if (w.network !== network) {
      throw new StrongroomError('E_CONFLICT', `wallet ${w.walletId} was made for ${w.network}, the bitcoin chain is ${network}`, {
        details: { walletId: w.walletId, walletNetwork: w.network, chainNetwork: network },
      });
    }
    return network;
  }

  /** The first receive address of each configured chain and kind. */
  function firstAddresses(tenant: string, w: WalletInfo, at: string): WalletAddress[] {
    const out: WalletAddress[] = [];
    if (chains?.bitcoin) {
      const network = bitcoinNetworkFor(w);
      out.push(deriveWalletAddress(tenant, w, 'p2wpkh', 0, 0, network, at), deriveWalletAddress(tenant, w, 'p2tr', 0, 0, network, at));
    }
    if (chains?.ethereum) out.push(deriveWalletAddress(tenant, w, 'evm', 0, 0, 'mainnet', at));
    return out;
  }

  async function walletOf(p: Principal, walletId: string): Promise<WalletInfo> {
    if (typeof walletId !== 'string' || walletId.length === 0 || walletId.length > 128) {
      throw new StrongroomError('E_VALIDATION', 'walletId must be 1-128 characters', { details: { parameter: 'walletId' } });
    }
    return vault.wallet(p.tenant, walletId);
  }

  return {
    /**
     * Creates the wallet in the vault (the vault must be unsealed), then stores its first addresses.
     * A retry with the same Idempotency-Key answers what the first call answered; a create interrupted
     * between the vault and the addresses completes when repeated with the same walletId and tier.
     */
    async create(p: Principal, input: CreateWalletInput, idempotencyKey: string): Promise<Reply<WalletDetailView>> {
      // The vault acts before the signed write commits, so what that write would refuse is refused first:
      // a revoked key creates nothing, and a repeat goes straight to the recorded answer.
      const key = await directoryRepository.getKey(db, p.keyId);
      if (!key || key.tenant_id !== p.tenant) throw new StrongroomError('E_KEY_UNKNOWN', 'unknown key');
      if (key.status !== 'active') throw new StrongroomError('E_KEY_REVOKED', 'this key has been revoked');
      const repeat = (await authRepository.getIdempotency(db, p.tenant, p.userId, idempotencyKey)) !== undefined;
      let info: WalletInfo | undefined;
      let conflict: StrongroomError | undefined;
      if (!repeat) {
        try {
          info = await vault.createWallet(p.tenant, {
            walletId: input.walletId, tier: input.tier, ...(input.label !== undefined ? { label: input.label } : {}), actor: p.keyId,
          });
        } catch (e) {
          if (!isStrongroomError(e, 'E_CONFLICT')) throw e;
          conflict = e;
          const existing = await vault.wallet(p.tenant, input.walletId);
          const stored = await walletAddressesRepository.list(db, p.tenant, { walletId: input.walletId });
          const resumable = existing.tier === input.tier && (input.label === undefined || existing.label === input.label) && stored.length === 0;
          if (resumable) info = existing;
        }
      }
      // Reads happen above: inside the write only its transaction may be used.
      return signedWrite<WalletDetailView>(writer, {
        principal: p,
        action: 'wallet.create',
        idempotencyKey,
        run: async (trx, at) => {
          if (!info) {
            throw conflict ?? new StrongroomError('E_CONFLICT', 'wallet exists');
          }
          const addresses: AddressView[] = [];
          for (const a of firstAddresses(p.tenant, info, at.toISOString())) {
            addresses.push(addressView(await walletAddressesRepository.ensure(trx, a)));
          }
          const body: WalletDetailView = { ...walletView(info), addresses };
          return {
            value: { status: 201, body },
            payloadDigest: digestOf(body),
            events: [{ topic: 'wallet.created', payload: { walletId: info.walletId, tier: info.tier, addresses: addresses.map((a) => a.address) } }],
          };
        },
      }, now);
    },

    /** The tenant's wallets in walletId order, after `after`. */
    async list(p: Principal, opts: { after?: string; limit?: number } = {}): Promise<WalletView[]> {
      const limit = Math.min(Math.max(opts.limit ?? 100, 1), 500);
      const rows = await vaultRepository(deps.database).listWallets(p.tenant, { after: opts.after ?? null, limit });
      return rows.map(walletView);
    },

    async get(p: Principal, walletId: string): Promise<WalletDetailView> {
      const w = await walletOf(p, walletId);
      const addresses = await walletAddressesRepository.list(db, p.tenant, { walletId });
      return { ...walletView(w), addresses: addresses.filter((a) => a.change === 0).map(addressView) };
    },

    /** Every stored address of the wallet (receive and change), by kind, chain and index. */
    async addresses(p: Principal, walletId: string): Promise<AddressView[]> {
      await walletOf(p, walletId);
      return (await walletAddressesRepository.list(db, p.tenant, { walletId })).map(addressView);
    },

    /**
     * The next receive address of a Bitcoin kind. EVM wallets receive and send at one address (index 0, the
     * account model), so for `ethereum` this answers that address.
     */
    async newAddress(p: Principal, walletId: string, input: NewAddressInput, idempotencyKey: string): Promise<Reply<AddressView>> {
      if (!Object.hasOwn(KINDS, input.chain) || !KINDS[input.chain].includes(input.kind)) {
        throw new StrongroomError('E_VALIDATION', 'kind must be p2wpkh or p2tr on bitcoin, evm on ethereum', {
          details: { parameter: 'kind' },
        });
      }
      if (!chains?.[input.chain]) {
        throw new StrongroomError('E_CHAIN_NOT_CONFIGURED', `no ${input.chain} chain is configured`, { hints: ['add it to chains.json'] });
      }
      const w = await walletOf(p, walletId);
      const network = input.chain === 'bitcoin' ? bitcoinNetworkFor(w) : 'mainnet';
      return signedWrite<AddressView>(writer, {
        principal: p,
        action: 'wallet.address.create',
        idempotencyKey,
        run: async (trx, at) => {
          const index = input.kind === 'evm' ? 0 : await walletAddressesRepository.nextIndex(trx, p.tenant, walletId, input.kind, 0);
          const before = input.kind === 'evm' ? await walletAddressesRepository.get(trx, p.tenant, 'ethereum', deriveWalletAddress(p.tenant, w, 'evm', 0, 0, network, '').address) : undefined;
          const stored = await walletAddressesRepository.ensure(trx, deriveWalletAddress(p.tenant, w, input.kind, 0, index, network, at.toISOString()));
          const body = addressView(stored);
          if (before) return { value: { status: 200, body }, payloadDigest: null, noop: true };
          return {
            value: { status: 201, body },
            payloadDigest: digestOf({ walletId, ...body }),
            events: [{ topic: 'wallet.address.created', payload: { walletId, ...body } }],
          };
        },
      }, now);
    },
  };
}

export type WalletsService = ReturnType<typeof createWalletsService>;

/** The wallet API and the deposit scanner, wired from the composition root's dependencies. */
export function walletServices(deps: WalletsServiceDeps & { assets: AssetRegistry }) {
  return {
    wallets: createWalletsService(deps),
    deposits: createDepositsService({ writer: deps.writer, db: deps.db, now: deps.now, chains: deps.chains, assets: deps.assets, vault: deps.vault }),
  };
}
