/**
 * What every node client shares (untrusted side): one typed error for anything a node does wrong, URLs with
 * their credentials stripped before they reach an error or a log, and bounded retries with backoff.
 *
 * A node is untrusted transport. Whatever it answers — a timeout, HTML from a proxy, JSON of the wrong
 * shape, an RPC error — becomes `E_CHAIN_RPC` with `details.method`, `details.rpcCode` (when the node sent
 * one), `details.reason` and `details.retriable`, so callers branch on data, never on message text.
 */
import { StrongroomError } from '../domain/errors.ts';

export type ChainRpcFailure =
  /** No answer in time, connection refused or reset, HTTP 5xx without a JSON-RPC body. */
  | 'transport'
  /** An answer that is not JSON-RPC, or a result of the wrong shape. */
  | 'bad-response'
  /** The node answered with a JSON-RPC error. */
  | 'rpc-error'
  /** HTTP 401/403: wrong credentials. */
  | 'unauthorized'
  /** The node serves another chain than the one configured. */
  | 'chain-id-mismatch'
  /** A broadcast the node neither put in its mempool nor in a block. */
  | 'not-accepted'
  /** A broadcast whose inputs (Bitcoin) or nonce (EVM) were already consumed by another transaction. */
  | 'conflict'
  /** The chain reorganised deeper than the scanner remembers. */
  | 'reorg-too-deep';

export interface ChainRpcErrorParameters {
  readonly method: string;
  readonly reason: ChainRpcFailure;
  readonly message: string;
  readonly retriable: boolean;
  /** Redacted endpoint (see `redactUrl`). */
  readonly endpoint?: string;
  readonly rpcCode?: number;
  readonly details?: Record<string, unknown>;
  readonly cause?: unknown;
}

export function chainRpcError(p: ChainRpcErrorParameters): StrongroomError {
  return new StrongroomError('E_CHAIN_RPC', `${p.method}: ${p.message}`, {
    details: {
      ...p.details,
      method: p.method,
      reason: p.reason,
      retriable: p.retriable,
      ...(p.rpcCode !== undefined ? { rpcCode: p.rpcCode } : {}),
      ...(p.endpoint !== undefined ? { endpoint: p.endpoint } : {}),
    },
    hints: p.retriable ? ['the node may be busy or unreachable; the call can be retried'] : [],
    cause: p.cause,
  });
}

/**
 * The URL with everything that may be a secret removed: user and password, the query string, and path
 * segments that look like API keys (Infura/Alchemy style `/v3/<key>`). Only scheme, host, port and short
 * path segments survive.
 * @example redactUrl('http://user:pw@127.0.0.1:8332/?apikey=x') === 'http://127.0.0.1:8332/'
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const path = u.pathname
      .split('/')
      .map((s) => (s.length >= 16 ? '***' : s))
      .join('/');
    return `${u.protocol}//${u.host}${path}`;
  } catch {
    return '<invalid url>';
  }
}

/** Splits credentials out of a URL: the bare URL to fetch and the user/password for a Basic header. */
export function splitCredentials(url: string): { url: string; username?: string; password?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new StrongroomError('E_VALIDATION', 'node URL is not a valid URL', {
      details: { parameter: 'url' },
      cause,
    });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new StrongroomError('E_VALIDATION', 'node URL must be http: or https:', {
      details: { parameter: 'url' },
    });
  }
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  return {
    url: u.toString(),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  };
}

export interface RetryOptions {
  /** Extra attempts after the first (default 2). */
  readonly retries?: number;
  /** First backoff; doubles each attempt (default 100 ms). */
  readonly backoffMs?: number;
}

/**
 * Runs `attempt` until it succeeds, throws a non-retriable error, or attempts run out. Only errors marked
 * `details.retriable` are retried: transport failures and garbage, never an answer the node gave on purpose.
 */
export async function withRetries<T>(attempt: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const retries = options.retries ?? 2;
  const backoff = options.backoffMs ?? 100;
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      const retriable = e instanceof StrongroomError && e.details.retriable === true;
      if (!retriable || i >= retries) {
        if (e instanceof StrongroomError) e.details.attempts = i + 1;
        throw e;
      }
      await sleep(backoff * 2 ** i);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
  } catch {
    return false;
  }
}

// --- shape checks for node answers: each throws a plain Error that the caller turns into E_CHAIN_RPC bad-response

export function record(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected an object');
  return v as Record<string, unknown>;
}
export function array(v: unknown): unknown[] {
  if (!Array.isArray(v)) throw new Error('expected an array');
  return v;
}

/** A node that answers another id than the one our bytes hash to is not trusted with the broadcast. */
export function assertAnsweredId(
  method: string,
  answered: string,
  expected: string,
  field: 'txid' | 'hash',
): void {
  if (answered === expected) return;
  throw chainRpcError({
    method,
    reason: 'bad-response',
    message: `node answered ${field} ${answered}, the bytes hash to ${expected}`,
    retriable: false,
    details: { [field]: expected },
  });
}
