/**
 * Bitcoin Core-compatible JSON-RPC client (untrusted side), tested against bcoin. Every answer is checked
 * for shape before it is used; anything wrong becomes `E_CHAIN_RPC` (see ../rpc-call.ts). Transport
 * failures and garbage are retried a bounded number of times; JSON-RPC errors are not.
 *
 * Two node dialects are papered over here, and only here:
 * - blocks are fetched raw (`getblock hash false`: hex in both nodes) and parsed locally, because verbose
 *   block JSON differs (Core's verbosity=2 vs bcoin's `details` flag) and carries amounts as float BTC;
 * - "not found" is RPC code -5 in Core but -1 with a message in bcoin, so `getMempoolEntry` and
 *   `getRawTransaction` recognise both and answer `undefined`.
 */
import { StrongroomError } from '../../domain/errors.ts';
import { array, chainRpcError, record, redactUrl, splitCredentials, withRetries } from '../rpc-call.ts';

export interface BitcoinRpcConfig {
  /** http(s) URL of the node; credentials may be embedded (they are moved to a header and never logged). */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** Per-attempt timeout (default 10 s). */
  readonly timeoutMs?: number;
  /** Extra attempts for transport failures and garbage (default 2). */
  readonly retries?: number;
  readonly backoffMs?: number;
}

export interface BitcoinBlockInfo {
  readonly hash: string;
  readonly height: number;
  readonly confirmations: number;
  readonly previousblockhash: string | undefined;
  readonly tx: readonly string[];
}

export interface BitcoinTxOut {
  readonly value: bigint;
  readonly script: string;
  readonly confirmations: number;
  readonly coinbase: boolean;
  readonly bestblock: string;
}

export interface BitcoinTxInfo {
  readonly hex: string;
  /** 0 in the mempool. */
  readonly confirmations: number;
  readonly blockhash: string | undefined;
}

export interface BitcoinRpc {
  /** Redacted endpoint, safe to log. */
  readonly endpoint: string;
  /** A raw call; `parse` checks the result's shape and throws on anything else. */
  call<T>(method: string, params: readonly unknown[], parse: (result: unknown) => T): Promise<T>;
  getBlockCount(): Promise<number>;
  getBlockHash(height: number): Promise<string>;
  getBlock(hash: string): Promise<BitcoinBlockInfo>;
  /** The serialised block. */
  getBlockRaw(hash: string): Promise<Uint8Array>;
  /** Raw hex plus where it is; undefined when the node does not know the transaction. */
  getRawTransaction(txid: string): Promise<BitcoinTxInfo | undefined>;
  /** sat/vB, or undefined when the node has no estimate (bcoin answers -1 on a quiet regtest). */
  estimateSmartFee(targetBlocks: number): Promise<number | undefined>;
  /** The txid as the node reports it. Acceptance must be confirmed separately (see broadcast.ts). */
  sendRawTransaction(rawTx: string): Promise<string>;
  getMempoolEntry(txid: string): Promise<{ readonly fee: number | undefined } | undefined>;
  /** Unspent output (including the mempool by default); undefined when spent or unknown. */
  getTxOut(txid: string, vout: number, includeMempool?: boolean): Promise<BitcoinTxOut | undefined>;
}

export function createBitcoinRpc(config: BitcoinRpcConfig): BitcoinRpc {
  const split = splitCredentials(config.url);
  const endpoint = redactUrl(config.url);
  const username = config.username ?? split.username ?? '';
  const password = config.password ?? split.password;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (password !== undefined || username) {
    headers.authorization = 'Basic ' + Buffer.from(`${username}:${password ?? ''}`).toString('base64');
  }
  const timeoutMs = config.timeoutMs ?? 10_000;
  let nextId = 1;

  async function attempt<T>(
    method: string,
    params: readonly unknown[],
    parse: (r: unknown) => T,
  ): Promise<T> {
    const fail = (reason: 'transport' | 'bad-response' | 'unauthorized', message: string, cause?: unknown) =>
      chainRpcError({
        method,
        reason,
        message,
        retriable: reason !== 'unauthorized',
        endpoint,
        cause,
      });
    const id = nextId++;
    let status: number;
    let text: string;
    try {
      const res = await fetch(split.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '1.0', id, method, params }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (cause) {
      const timedOut = (cause as { name?: string }).name === 'TimeoutError';
      // The cause of a fetch failure can quote the URL; keep only its name and code.
      throw fail('transport', timedOut ? `no answer within ${timeoutMs} ms` : 'node unreachable', {
        name: (cause as { name?: string }).name,
        code: (cause as { cause?: { code?: string } }).cause?.code,
      });
    }
    if (status === 401 || status === 403)
      throw fail('unauthorized', `HTTP ${status}: check the RPC credentials`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // Core answers RPC errors with HTTP 500 and a JSON body; a 5xx without JSON is the transport failing.
      throw fail(status >= 500 ? 'transport' : 'bad-response', `HTTP ${status} with a body that is not JSON`);
    }
    if (
      typeof body !== 'object' ||
      body === null ||
      Array.isArray(body) ||
      !('result' in body || 'error' in body)
    ) {
      throw fail('bad-response', 'answer is not a JSON-RPC response');
    }
    const { result, error } = body as { result?: unknown; error?: unknown };
    if (error !== null && error !== undefined) {
      const e = error as { code?: unknown; message?: unknown };
      const rpcCode = typeof e.code === 'number' ? e.code : undefined;
      const message = typeof e.message === 'string' ? e.message.slice(0, 300) : 'RPC error';
      throw chainRpcError({
        method,
        reason: 'rpc-error',
        message,
        // -28: the node is still warming up (loading blocks); a later attempt will succeed.
        retriable: rpcCode === -28,
        endpoint,
        ...(rpcCode !== undefined ? { rpcCode } : {}),
      });
    }
    try {
      return parse(result);
    } catch (cause) {
      throw fail('bad-response', 'result has an unexpected shape', cause);
    }
  }

  const call = <T>(method: string, params: readonly unknown[], parse: (r: unknown) => T): Promise<T> =>
    withRetries(() => attempt(method, params, parse), {
      ...(config.retries !== undefined ? { retries: config.retries } : {}),
      ...(config.backoffMs !== undefined ? { backoffMs: config.backoffMs } : {}),
    });

  const notFound = (e: unknown, pattern: RegExp) =>
    e instanceof StrongroomError &&
    e.details.reason === 'rpc-error' &&
    (e.details.rpcCode === -5 || (e.details.rpcCode === -1 && pattern.test(e.message)));

  return {
    endpoint,
    call,
    getBlockCount: async () => call('getblockcount', [], height),
    getBlockHash: async (h) => call('getblockhash', [checkHeight(h)], hash32),
    getBlock: async (hash) =>
      call('getblock', [checkHash(hash), true], (r) => {
        const b = record(r);
        return {
          hash: hash32(b.hash),
          height: height(b.height),
          confirmations: integer(b.confirmations),
          previousblockhash:
            b.previousblockhash === undefined || b.previousblockhash === null
              ? undefined
              : hash32(b.previousblockhash),
          tx: array(b.tx).map(hash32),
        };
      }),
    getBlockRaw: async (hash) => call('getblock', [checkHash(hash), false], (r) => hexBytes(r)),
    async getRawTransaction(txid) {
      try {
        return await call('getrawtransaction', [checkHash(txid), true], (r) => {
          const t = record(r);
          hexBytes(t.hex);
          return {
            hex: t.hex as string,
            confirmations: t.confirmations === undefined ? 0 : integer(t.confirmations),
            blockhash:
              typeof t.blockhash === 'string' && t.blockhash !== '' ? hash32(t.blockhash) : undefined,
          };
        });
      } catch (e) {
        if (notFound(e, /not found/i)) return undefined;
        throw e;
      }
    },
    estimateSmartFee: async (target) =>
      call('estimatesmartfee', [checkTarget(target)], (r) => {
        const o = record(r);
        // Core: {feerate: BTC/kvB} or {errors}; bcoin: {fee: BTC/kvB or -1}.
        const v = o.feerate ?? o.fee;
        if (v === undefined || v === -1) return undefined;
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) throw new Error('feerate');
        const satPerVb = Math.round(v * 1e8) / 1000;
        return satPerVb > 0 ? satPerVb : undefined;
      }),
    sendRawTransaction: async (rawTx) => call('sendrawtransaction', [checkHex(rawTx, 'rawTx')], hash32),
    async getMempoolEntry(txid) {
      try {
        return await call('getmempoolentry', [checkHash(txid)], (r) => {
          const o = record(r);
          return { fee: typeof o.fee === 'number' ? o.fee : undefined };
        });
      } catch (e) {
        if (notFound(e, /not in mempool/i)) return undefined;
        throw e;
      }
    },
    getTxOut: async (txid, vout, includeMempool = true) =>
      call('gettxout', [checkHash(txid), checkVout(vout), includeMempool], (r) => {
        if (r === null) return undefined;
        const o = record(r);
        const spk = record(o.scriptPubKey);
        return {
          value: btcToSats(o.value),
          script: checkHex(spk.hex, 'scriptPubKey'),
          confirmations: integer(o.confirmations),
          coinbase: o.coinbase === true,
          bestblock: hash32(o.bestblock),
        };
      }),
  };
}

/**
 * BTC amounts arrive as JSON numbers with at most 8 decimals; x·1e8 rounded is exact for every amount up to
 * the 21 M BTC supply (well inside 2^53 satoshis).
 */
export function btcToSats(v: unknown): bigint {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 21_000_000) throw new Error('amount');
  return BigInt(Math.round(v * 1e8));
}

// --- shape checks: each throws a plain Error that `attempt` turns into E_CHAIN_RPC bad-response ---------

function integer(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Error('expected an integer');
  return v;
}
function height(v: unknown): number {
  const n = integer(v);
  if (n < 0) throw new Error('expected a height');
  return n;
}
function hash32(v: unknown): string {
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) throw new Error('expected a 32-byte hex hash');
  return v;
}
function hexBytes(v: unknown): Uint8Array {
  if (typeof v !== 'string' || v.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(v))
    throw new Error('expected hex');
  return Uint8Array.from(Buffer.from(v, 'hex'));
}

// --- argument checks: refuse bad input before it reaches the node ---------------------------------------

function invalid(parameter: string, message: string): StrongroomError {
  return new StrongroomError('E_VALIDATION', message, { details: { parameter } });
}
function checkHash(v: string): string {
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v))
    throw invalid('hash', 'expected 64 lowercase hex digits');
  return v;
}
function checkHeight(v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw invalid('height', 'height must be a non-negative integer');
  return v;
}
function checkVout(v: number): number {
  if (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) throw invalid('vout', 'vout must be a uint32');
  return v;
}
function checkTarget(v: number): number {
  if (!Number.isSafeInteger(v) || v < 1 || v > 1008)
    throw invalid('targetBlocks', 'targetBlocks must be 1..1008');
  return v;
}
function checkHex(v: unknown, parameter: string): string {
  if (typeof v !== 'string' || v.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(v))
    throw invalid(parameter, `${parameter} must be hex`);
  return v.toLowerCase();
}
