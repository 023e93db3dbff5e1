/**
 * Bitcoin withdrawals: coin selection over the wallet's confirmed, unlocked coins, change to a fresh
 * internal (BIP84 change-chain) address, the node's fee rate between the configured floor and cap, nLockTime at
 * the tip, RBF signalling; the coins are locked in the transaction that stores the PSBT. Tracked by the
 * outpoints it spends: it fails only when one of them is spent on chain by another transaction.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { bitcoinTxStatus, broadcastBitcoin } from '../../chains/bitcoin/broadcast.ts';
import { buildPsbt, bumpPsbtFee, type WalletUtxo } from '../../chains/bitcoin/psbt.ts';
import type { BitcoinRpc } from '../../chains/bitcoin/rpc.ts';
import { StrongroomError, isStrongroomError } from '../../domain/errors.ts';
import type { BitcoinTracking, Execution } from '../../store/repositories/executions-repository.ts';
import { utxoRepository } from '../../store/repositories/utxo-repository.ts';
import { walletAddressesRepository } from '../../store/repositories/wallet-addresses-repository.ts';
import type { Trx } from '../audited-writer.ts';
import { DEFAULTS, type BitcoinChainConfig } from '../chains-config.ts';
import { nextWalletAddress } from '../wallet-addresses.ts';
import type { ChainAdapter, TrackResult, WithdrawalOrder } from './adapter.ts';

interface BitcoinFacts {
  feeRate: number;
  tipHeight: number;
}

export function bitcoinAdapter(config: BitcoinChainConfig, rpc: BitcoinRpc): ChainAdapter<BitcoinFacts> {
  const confirmations = config.confirmations ?? DEFAULTS.confirmations;
  const floor = config.feeRateFloor ?? DEFAULTS.feeRateFloor;
  const cap = config.feeRateCap ?? DEFAULTS.feeRateCap;
  return {
    async facts() {
      const [estimate, tipHeight] = [await rpc.estimateSmartFee(2), await rpc.getBlockCount()];
      return { feeRate: Math.min(Math.max(estimate ?? floor, floor), cap), tipHeight };
    },

    async build(trx: Trx, o: WithdrawalOrder, facts: BitcoinFacts) {
      const wallet = { tenantId: o.tenantId, walletId: o.wallet.walletId };
      const coins = (await utxoRepository.available(trx, wallet)).filter((c) => c.height !== null && facts.tipHeight - c.height + 1 >= confirmations);
      const utxos: WalletUtxo[] = [];
      for (const c of coins) {
        const a = await walletAddressesRepository.get(trx, o.tenantId, 'bitcoin', c.address);
        if (!a || a.walletId !== o.wallet.walletId || a.kind === 'evm') continue;
        if (a.kind === 'p2tr' && config.spendTaproot === false) continue;
        utxos.push({ txid: c.txid, vout: c.vout, amount: c.value, script: c.script, kind: a.kind, publicKey: hexToBytes(a.publicKey), path: a.path });
      }
      // Short now, but coins locked by withdrawals in flight will come back as change: wait (retried), not fail.
      const short = async (message: string) =>
        (await utxoRepository.hasLocked(trx, wallet))
          ? new StrongroomError('E_UTXO_UNAVAILABLE', `${message}; coins locked by withdrawals in flight may free enough`, { details: { walletId: o.wallet.walletId } })
          : new StrongroomError('E_INSUFFICIENT_FUNDS', message, { details: { walletId: o.wallet.walletId } });
      if (utxos.length === 0) throw await short('the wallet has no confirmed, unlocked coins');
      const change = await nextWalletAddress(trx, o.tenantId, o.wallet, 'p2wpkh', 1, config.network, o.at);
      let built: ReturnType<typeof buildPsbt>;
      try {
        built = buildPsbt({
          network: config.network, utxos, outputs: [{ address: o.destination, amount: o.amount }],
          change: { kind: 'p2wpkh', publicKey: hexToBytes(change.publicKey), path: change.path, script: hexToBytes(change.script) },
          masterFingerprint: o.wallet.fingerprint, feeRate: facts.feeRate, feeRateFloor: floor, feeRateCap: cap, tipHeight: facts.tipHeight,
        });
      } catch (e) {
        if (isStrongroomError(e, 'E_INSUFFICIENT_FUNDS')) throw await short(e.message);
        throw e;
      }
      if (built.fee > o.feeCap) {
        throw new StrongroomError('E_FEE_TOO_HIGH', `the fee (${built.fee} sat) is above the cap (${o.feeCap} sat)`, {
          details: { fee: built.fee.toString(), feeCap: o.feeCap.toString() },
        });
      }
      await utxoRepository.lockCoins(trx, wallet, o.requestId, built.selected.map((u) => ({ txid: u.txid, vout: u.vout })), o.at);
      const tracking: BitcoinTracking = { outpoints: built.selected.map((u) => `${u.txid}:${u.vout}`) };
      return { unsignedPayload: Buffer.from(built.psbt).toString('base64'), tracking, fee: built.fee };
    },

    async broadcast(e: Execution) {
      try {
        await broadcastBitcoin(rpc, e.signedTx!);
      } catch (err) {
        // An input spent elsewhere is decided by tracking (only a confirmed conflict fails the withdrawal).
        if (isStrongroomError(err, 'E_CHAIN_RPC') && err.details.reason === 'conflict') return;
        throw err;
      }
    },

    async track(e: Execution): Promise<TrackResult> {
      const status = await bitcoinTxStatus(rpc, e.txid!);
      if (status.state === 'block') {
        if (status.confirmations < confirmations) return { state: 'pending', confirmations: status.confirmations };
        const tip = await rpc.getBlockCount();
        return { state: 'confirmed', blockHeight: tip - status.confirmations + 1, fee: BigInt(e.fee ?? '0') };
      }
      if (status.state === 'mempool') return { state: 'pending', confirmations: 0 };
      // Unknown to the node: spent on chain by something else (a confirmed conflict), or simply dropped.
      for (const op of (e.tracking as BitcoinTracking).outpoints) {
        const [txid, vout] = op.split(':');
        if (!(await rpc.getTxOut(txid!, Number(vout), false))) return { state: 'failed', reason: `input ${op} was spent by another transaction` };
      }
      return { state: 'dropped' };
    },
    async bump(e: Execution, options: { feeRate?: number }) {
      const old = Buffer.from(e.unsignedPayload, 'base64');
      const node = (await rpc.estimateSmartFee(2)) ?? floor;
      const current = Number(e.fee ?? '0');
      const built = bumpPsbtFee(old, config.network, Math.min(Math.max(options.feeRate ?? node, floor), cap));
      if (built.fee <= BigInt(current)) throw new StrongroomError('E_VALIDATION', 'the replacement must pay more than the transaction it replaces');
      if (built.fee > BigInt(e.feeCap)) {
        throw new StrongroomError('E_FEE_TOO_HIGH', `the bumped fee (${built.fee} sat) is above the cap (${e.feeCap} sat)`, { details: { fee: built.fee.toString(), feeCap: e.feeCap } });
      }
      return { unsignedPayload: Buffer.from(built.psbt).toString('base64'), fee: built.fee };
    },
    close() {},
  };
}
