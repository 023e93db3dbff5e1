/**
 * EVM withdrawals (ETH and ERC-20): EIP-1559 fees from the node, capped by the request's fee cap; the nonce of
 * the wallet's sending address assigned by the nonce manager in the transaction that stores the payload.
 * Tracked by (sender, nonce): fails only when that nonce is consumed by another transaction (or ours reverted).
 */
import { broadcastEvm, trackEvmTransaction } from '../../chains/evm/broadcast.ts';
import { encodeErc20Transfer } from '../../chains/evm/calldata.ts';
import { parseEvmAddress } from '../../chains/evm/address.ts';
import type { EvmRpc } from '../../chains/evm/rpc.ts';
import { buildErc20Transfer, buildEthTransfer, bumpEvmFees, type EvmFees } from '../../chains/evm/tx.ts';
import { assetInfo, type AssetRegistry } from '../../domain/assets.ts';
import { StrongroomError, isStrongroomError } from '../../domain/errors.ts';
import type { EvmTracking, Execution } from '../../store/repositories/executions-repository.ts';
import { evmNonceRepository } from '../../store/repositories/evm-nonce-repository.ts';
import type { Trx } from '../audited-writer.ts';
import { DEFAULTS, type EvmChainConfig } from '../chains-config.ts';
import { deriveWalletAddress, evmPrimaryAddress } from '../wallet-addresses.ts';
import type { ChainAdapter, TrackResult, WithdrawalOrder } from './adapter.ts';

interface EvmFacts {
  sender: string;
  pendingNonce: number;
  fees: EvmFees;
}

export function evmAdapter(config: EvmChainConfig, rpc: EvmRpc, assets: AssetRegistry): ChainAdapter<EvmFacts> {
  const confirmations = config.confirmations ?? DEFAULTS.confirmations;
  const chainId = BigInt(config.chainId);
  return {
    async facts(o: WithdrawalOrder) {
      const sender = deriveWalletAddress(o.tenantId, o.wallet, 'evm', 0, 0, 'mainnet', o.at).address;
      const asset = assetInfo(o.asset, assets);
      const to = parseEvmAddress(o.destination);
      const short = () =>
        new StrongroomError('E_INSUFFICIENT_FUNDS', `${sender} cannot pay ${o.amount} ${o.asset} and its fee`, { details: { walletId: o.wallet.walletId } });
      // Balances first: a node asked to estimate a transfer the sender cannot pay answers with a revert.
      const native = await rpc.getBalance(sender, 'latest');
      const tokens = asset.contract === undefined ? native : await rpc.erc20BalanceOf(asset.contract, sender, 'latest');
      if (tokens < o.amount) throw short();
      const gasLimit = asset.contract === undefined
        ? await rpc.estimateGas({ from: sender, to, value: o.amount })
        : await rpc.estimateGas({ from: sender, to: asset.contract, data: encodeErc20Transfer(to, o.amount) });
      const fee = await rpc.getFeeData();
      const limit = gasLimit + gasLimit / 5n;
      let maxFeePerGas = fee.maxFeePerGas;
      if (limit * maxFeePerGas > o.feeCap) maxFeePerGas = o.feeCap / limit;
      if (maxFeePerGas < fee.baseFeePerGas + fee.maxPriorityFeePerGas) {
        throw new StrongroomError('E_FEE_TOO_HIGH', 'the network fee needed is above the fee cap', {
          details: { feeCap: o.feeCap.toString(), needed: (limit * (fee.baseFeePerGas + fee.maxPriorityFeePerGas)).toString() },
        });
      }
      const fees: EvmFees = { gasLimit: limit, maxFeePerGas, maxPriorityFeePerGas: fee.maxPriorityFeePerGas };
      if (native < limit * maxFeePerGas + (asset.contract === undefined ? o.amount : 0n)) throw short();
      return { sender, pendingNonce: await rpc.getTransactionCount(sender, 'pending'), fees };
    },

    async build(trx: Trx, o: WithdrawalOrder, f: EvmFacts) {
      const sender = await evmPrimaryAddress(trx, o.tenantId, o.wallet, o.at);
      const { nonce } = await evmNonceRepository.assignNonce(trx, Number(chainId), sender.address, o.requestId, f.pendingNonce, o.at);
      const asset = assetInfo(o.asset, assets);
      const built = asset.contract === undefined
        ? buildEthTransfer({ chainId, nonce, to: o.destination, amount: o.amount, fees: f.fees })
        : buildErc20Transfer({ chainId, nonce, token: asset.contract, to: o.destination, amount: o.amount, fees: f.fees });
      const tracking: EvmTracking = { sender: sender.address, nonce, chainId: chainId.toString() };
      return { unsignedPayload: built.unsignedTx, tracking, fee: f.fees.gasLimit * f.fees.maxFeePerGas };
    },

    async broadcast(e: Execution) {
      try {
        await broadcastEvm(rpc, e.signedTx!);
      } catch (err) {
        // The nonce is taken (mined or pending) by another transaction: tracking by (sender, nonce) decides;
        // only a confirmed conflict fails the withdrawal.
        if (isStrongroomError(err, 'E_CHAIN_RPC') && err.details.reason === 'conflict') return;
        throw err;
      }
    },

    async track(e: Execution): Promise<TrackResult> {
      const t = e.tracking as EvmTracking;
      const r = await trackEvmTransaction(rpc, { hash: e.txid!, from: t.sender, nonce: t.nonce }, confirmations);
      switch (r.state) {
        case 'confirmed':
          if (r.receipt.status !== 1) return { state: 'failed', reason: 'the transaction reverted' };
          return { state: 'confirmed', blockHeight: r.receipt.blockNumber, fee: r.receipt.gasUsed * r.receipt.effectiveGasPrice };
        case 'mined':
          return { state: 'pending', confirmations: r.confirmations };
        case 'pending':
          return { state: 'pending', confirmations: 0 };
        case 'replaced':
          return { state: 'failed', reason: `nonce ${t.nonce} of ${t.sender} was consumed by another transaction` };
        case 'dropped':
          return { state: 'dropped' };
      }
    },
    async bump(e: Execution) {
      const fee = await rpc.getFeeData();
      const built = bumpEvmFees(e.unsignedPayload, fee);
      const total = built.request.gasLimit * built.request.maxFeePerGas;
      if (total > BigInt(e.feeCap)) {
        throw new StrongroomError('E_FEE_TOO_HIGH', `the bumped fee (${total} wei at most) is above the cap (${e.feeCap} wei)`, { details: { fee: total.toString(), feeCap: e.feeCap } });
      }
      return { unsignedPayload: built.unsignedTx, fee: total };
    },
    close: () => rpc.destroy(),
  };
}
