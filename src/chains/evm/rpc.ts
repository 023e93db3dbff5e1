/**
 * Ethereum JSON-RPC client (untrusted side) over ethers' JsonRpcProvider with a static network (no chain-id
 * polling, no batching, no response cache), so every call here is exactly one request we control.
 *
 * Chain-id guard: the node's `eth_chainId` is checked against the configured one before the first call and
 * again before every broadcast; a node on another chain gets `E_CHAIN_RPC` reason `chain-id-mismatch` and
 * nothing is sent to it. Results are parsed strictly (hex quantities to bigint); garbage, timeouts and
 * transport failures are retried a bounded number of times and then raised as `E_CHAIN_RPC`.
 */
import { FetchRequest, JsonRpcProvider, Network } from 'ethers';
import { StrongroomError } from '../../domain/errors.ts';
import {
  array,
  chainRpcError,
  record,
  isLoopback,
  redactUrl,
  splitCredentials,
  withRetries,
} from '../rpc-call.ts';
import { parseEvmAddress, toChecksumAddress, type EvmAddress } from './address.ts';
import { ERC20_INTERFACE } from './erc20/artifact.ts';

export interface EvmRpcOptions {
  /** The chain this client must talk to; any other answer to eth_chainId is refused. */
  readonly expectedChainId: bigint;
  /** Per-attempt timeout (default 10 s). */
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly backoffMs?: number;
}

export interface EvmFeeData {
  readonly baseFeePerGas: bigint;
  readonly maxPriorityFeePerGas: bigint;
  /** 2 × base fee + tip: survives six full blocks of base-fee growth. Policy caps apply on top. */
  readonly maxFeePerGas: bigint;
}

export interface EvmLog {
  readonly address: EvmAddress;
  readonly topics: readonly string[];
  readonly data: string;
  readonly blockNumber: number;
  readonly blockHash: string;
  readonly transactionHash: string;
  readonly logIndex: number;
  readonly removed: boolean;
}

export interface EvmReceipt {
  readonly transactionHash: string;
  readonly status: 0 | 1;
  readonly blockNumber: number;
  readonly blockHash: string;
  readonly from: EvmAddress;
  readonly to: EvmAddress | undefined;
  readonly gasUsed: bigint;
  readonly effectiveGasPrice: bigint;
  readonly logs: readonly EvmLog[];
}

export interface EvmTxInfo {
  readonly hash: string;
  readonly from: EvmAddress;
  readonly to: EvmAddress | undefined;
  readonly nonce: number;
  readonly value: bigint;
  /** Undefined while pending. */
  readonly blockNumber: number | undefined;
}

export interface EvmBlock {
  readonly number: number;
  readonly hash: string;
  readonly parentHash: string;
  readonly baseFeePerGas: bigint | undefined;
  readonly transactions: readonly EvmTxInfo[];
}

export type BlockTag = 'latest' | 'pending' | 'safe' | 'finalized' | number;

export interface EvmRpc {
  readonly endpoint: string;
  readonly chainId: bigint;
  call<T>(method: string, params: readonly unknown[], parse: (result: unknown) => T): Promise<T>;
  /** Throws `chain-id-mismatch` unless the node serves `chainId`. Cached once it passed. */
  assertChainId(options?: { fresh?: boolean }): Promise<void>;
  getBlockNumber(): Promise<number>;
  getBalance(address: string, tag?: BlockTag): Promise<bigint>;
  getTransactionCount(address: string, tag: 'pending' | 'latest'): Promise<number>;
  getFeeData(): Promise<EvmFeeData>;
  estimateGas(tx: { from: string; to: string; value?: bigint; data?: string }): Promise<bigint>;
  /** The hash the node reports; see broadcast.ts for the idempotent broadcast. */
  sendRawTransaction(rawTx: string): Promise<string>;
  getTransactionReceipt(hash: string): Promise<EvmReceipt | undefined>;
  getTransactionByHash(hash: string): Promise<EvmTxInfo | undefined>;
  /** Block with its transactions; undefined above the tip. */
  getBlock(tag: BlockTag): Promise<EvmBlock | undefined>;
  getLogs(filter: {
    blockHash: string;
    address?: string | string[];
    topics?: (string | string[] | null)[];
  }): Promise<EvmLog[]>;
  erc20BalanceOf(token: string, holder: string, tag?: BlockTag): Promise<bigint>;
  destroy(): void;
}

export function createEvmRpc(url: string, options: EvmRpcOptions): EvmRpc {
  const expected = options.expectedChainId;
  if (typeof expected !== 'bigint' || expected <= 0n) {
    throw new StrongroomError('E_VALIDATION', 'expectedChainId must be a positive bigint', {
      details: { parameter: 'expectedChainId' },
    });
  }
  const split = splitCredentials(url);
  const endpoint = redactUrl(url);
  const request = new FetchRequest(split.url);
  request.timeout = options.timeoutMs ?? 10_000;
  if (split.username !== undefined || split.password !== undefined) {
    // ethers refuses Basic auth over plain http unless told; allow it for a node on this machine only.
    request.allowInsecureAuthentication = isLoopback(split.url);
    request.setCredentials(split.username ?? '', split.password ?? '');
  }
  // ethers retries HTTP 429 itself with no bound we control; we do our own bounded retries instead.
  request.retryFunc = async () => false;
  const provider = new JsonRpcProvider(request, Network.from(expected), {
    staticNetwork: Network.from(expected),
    batchMaxCount: 1,
    cacheTimeout: -1,
  });
  let chainChecked = false;

  async function attempt<T>(
    method: string,
    params: readonly unknown[],
    parse: (r: unknown) => T,
  ): Promise<T> {
    let result: unknown;
    try {
      result = await provider.send(method, params as unknown[]);
    } catch (e) {
      throw classify(method, endpoint, e);
    }
    try {
      return parse(result);
    } catch (cause) {
      throw chainRpcError({
        method,
        reason: 'bad-response',
        message: 'result has an unexpected shape',
        retriable: true,
        endpoint,
        cause,
      });
    }
  }
  const call = <T>(method: string, params: readonly unknown[], parse: (r: unknown) => T): Promise<T> =>
    withRetries(() => attempt(method, params, parse), {
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
      ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}),
    });

  async function assertChainId(o: { fresh?: boolean } = {}): Promise<void> {
    if (chainChecked && !o.fresh) return;
    const actual = await call('eth_chainId', [], quantity);
    if (actual !== expected) {
      chainChecked = false;
      throw chainRpcError({
        method: 'eth_chainId',
        reason: 'chain-id-mismatch',
        message: `node serves chain id ${actual}, expected ${expected}`,
        retriable: false,
        endpoint,
        details: { expected: expected.toString(), actual: actual.toString() },
      });
    }
    chainChecked = true;
  }
  const guarded = async <T>(
    method: string,
    params: readonly unknown[],
    parse: (r: unknown) => T,
  ): Promise<T> => {
    await assertChainId();
    return call(method, params, parse);
  };

  return {
    endpoint,
    chainId: expected,
    call: guarded,
    assertChainId,
    getBlockNumber: async () => guarded('eth_blockNumber', [], (r) => safeNumber(quantity(r))),
    getBalance: async (address, tag = 'latest') =>
      guarded('eth_getBalance', [parseEvmAddress(address), blockTag(tag)], quantity),
    getTransactionCount: async (address, tag) =>
      guarded('eth_getTransactionCount', [parseEvmAddress(address), tag], (r) => safeNumber(quantity(r))),
    async getFeeData() {
      const block = await guarded('eth_getBlockByNumber', ['latest', false], record);
      const base = block.baseFeePerGas === undefined ? undefined : quantity(block.baseFeePerGas);
      if (base === undefined) {
        throw chainRpcError({
          method: 'eth_getBlockByNumber',
          reason: 'bad-response',
          message: 'the latest block has no base fee (pre-London chain?)',
          retriable: false,
          endpoint,
        });
      }
      const tip = await guarded('eth_maxPriorityFeePerGas', [], quantity);
      return { baseFeePerGas: base, maxPriorityFeePerGas: tip, maxFeePerGas: 2n * base + tip };
    },
    estimateGas: async (tx) =>
      guarded(
        'eth_estimateGas',
        [
          {
            from: parseEvmAddress(tx.from),
            to: parseEvmAddress(tx.to),
            value: toQuantity(tx.value ?? 0n),
            data: tx.data ?? '0x',
          },
        ],
        quantity,
      ),
    async sendRawTransaction(rawTx) {
      if (typeof rawTx !== 'string' || !/^0x([0-9a-fA-F]{2})+$/.test(rawTx)) {
        throw new StrongroomError('E_VALIDATION', 'rawTx must be 0x-prefixed hex', {
          details: { parameter: 'rawTx' },
        });
      }
      await assertChainId({ fresh: true });
      return call('eth_sendRawTransaction', [rawTx], hash32);
    },
    getTransactionReceipt: async (hash) =>
      guarded('eth_getTransactionReceipt', [checkHash(hash)], (r) =>
        r === null ? undefined : parseReceipt(r),
      ),
    getTransactionByHash: async (hash) =>
      guarded('eth_getTransactionByHash', [checkHash(hash)], (r) => (r === null ? undefined : parseTx(r))),
    getBlock: async (tag) =>
      guarded('eth_getBlockByNumber', [blockTag(tag), true], (r) => {
        if (r === null) return undefined;
        const b = record(r);
        return {
          number: safeNumber(quantity(b.number)),
          hash: hash32(b.hash),
          parentHash: hash32(b.parentHash),
          baseFeePerGas: b.baseFeePerGas === undefined ? undefined : quantity(b.baseFeePerGas),
          transactions: array(b.transactions).map(parseTx),
        };
      }),
    getLogs: async (filter) =>
      guarded(
        'eth_getLogs',
        [
          {
            blockHash: checkHash(filter.blockHash),
            ...(filter.address ? { address: filter.address } : {}),
            ...(filter.topics ? { topics: filter.topics } : {}),
          },
        ],
        (r) => array(r).map(parseLog),
      ),
    erc20BalanceOf: async (token, holder, tag = 'latest') =>
      guarded(
        'eth_call',
        [
          {
            to: parseEvmAddress(token),
            data: ERC20_INTERFACE.encodeFunctionData('balanceOf', [parseEvmAddress(holder)]),
          },
          blockTag(tag),
        ],
        (r) => {
          const [balance] = ERC20_INTERFACE.decodeFunctionResult('balanceOf', hexData(r));
          return BigInt(balance as bigint);
        },
      ),
    destroy: () => provider.destroy(),
  };
}

/** Maps whatever ethers threw to E_CHAIN_RPC: a JSON-RPC error object from the node, or a transport failure. */
function classify(method: string, endpoint: string, e: unknown): StrongroomError {
  const err = e as {
    code?: string;
    error?: { code?: unknown; message?: unknown };
    info?: { error?: { code?: unknown; message?: unknown } };
  };
  // ethers puts the node's JSON-RPC error object in `error` or, for errors it recognises, in `info.error`.
  const payload = err.error ?? err.info?.error;
  if (payload && typeof payload.code === 'number') {
    return chainRpcError({
      method,
      reason: 'rpc-error',
      message: typeof payload.message === 'string' ? payload.message.slice(0, 300) : 'RPC error',
      // -32005: rate limited / limit exceeded (EIP-1474); worth another try.
      retriable: payload.code === -32005,
      rpcCode: payload.code,
      endpoint,
    });
  }
  const transport = err.code === 'TIMEOUT' || err.code === 'SERVER_ERROR' || err.code === 'NETWORK_ERROR';
  return chainRpcError({
    method,
    reason: transport ? 'transport' : 'bad-response',
    // ethers' messages may quote the request URL; keep its code only.
    message: transport ? `transport failure (${err.code})` : `unusable answer (${err.code ?? 'unknown'})`,
    retriable: true,
    endpoint,
  });
}

// --- strict result parsing -------------------------------------------------------------------------------

export function quantity(v: unknown): bigint {
  if (typeof v !== 'string' || !/^0x(0|[1-9a-fA-F][0-9a-fA-F]{0,63})$/.test(v))
    throw new Error('expected a hex quantity');
  return BigInt(v);
}
function safeNumber(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('number out of range');
  return Number(v);
}
function hash32(v: unknown): string {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(v)) throw new Error('expected a 32-byte hash');
  return v.toLowerCase();
}
function hexData(v: unknown): string {
  if (typeof v !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(v)) throw new Error('expected hex data');
  return v;
}
// Addresses the node reports may legitimately be the zero address (a burn), which parseEvmAddress refuses
// as a destination; here only the format matters.
function nodeAddress(v: unknown): EvmAddress {
  if (typeof v !== 'string') throw new Error('expected an address');
  return toChecksumAddress(v);
}
function optionalAddress(v: unknown): EvmAddress | undefined {
  return v === null || v === undefined ? undefined : nodeAddress(v);
}
function parseTx(v: unknown): EvmTxInfo {
  const t = record(v);
  return {
    hash: hash32(t.hash),
    from: nodeAddress(t.from),
    to: optionalAddress(t.to),
    nonce: safeNumber(quantity(t.nonce)),
    value: quantity(t.value),
    blockNumber:
      t.blockNumber === null || t.blockNumber === undefined ? undefined : safeNumber(quantity(t.blockNumber)),
  };
}
function parseLog(v: unknown): EvmLog {
  const l = record(v);
  return {
    address: nodeAddress(l.address),
    topics: array(l.topics).map(hash32),
    data: hexData(l.data),
    blockNumber: safeNumber(quantity(l.blockNumber)),
    blockHash: hash32(l.blockHash),
    transactionHash: hash32(l.transactionHash),
    logIndex: safeNumber(quantity(l.logIndex)),
    removed: l.removed === true,
  };
}
function parseReceipt(v: unknown): EvmReceipt {
  const r = record(v);
  const status = quantity(r.status);
  if (status !== 0n && status !== 1n) throw new Error('bad status');
  return {
    transactionHash: hash32(r.transactionHash),
    status: Number(status) as 0 | 1,
    blockNumber: safeNumber(quantity(r.blockNumber)),
    blockHash: hash32(r.blockHash),
    from: nodeAddress(r.from),
    to: optionalAddress(r.to),
    gasUsed: quantity(r.gasUsed),
    effectiveGasPrice: quantity(r.effectiveGasPrice),
    logs: array(r.logs).map(parseLog),
  };
}

// --- arguments --------------------------------------------------------------------------------------------

function blockTag(tag: BlockTag): string {
  if (typeof tag === 'number') {
    if (!Number.isSafeInteger(tag) || tag < 0)
      throw new StrongroomError('E_VALIDATION', 'block number must be a non-negative integer', {
        details: { parameter: 'tag' },
      });
    return toQuantity(BigInt(tag));
  }
  if (!['latest', 'pending', 'safe', 'finalized'].includes(tag))
    throw new StrongroomError('E_VALIDATION', 'unknown block tag', { details: { parameter: 'tag' } });
  return tag;
}
function toQuantity(v: bigint): string {
  return '0x' + v.toString(16);
}
function checkHash(v: string): string {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(v))
    throw new StrongroomError('E_VALIDATION', 'expected a 0x-prefixed 32-byte hash', {
      details: { parameter: 'hash' },
    });
  return v;
}
