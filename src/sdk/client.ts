/**
 * The Strongroom API client. Every request is signed with the user's own key (RFC 9421, fresh nonce and
 * time each call), so the server learns who asked for exactly what and nothing can be replayed. A read
 * session (bearer token) may replace the signature on reads only; writes are always signed.
 */
import { randomUUID } from 'node:crypto';
import { StrongroomError, type ErrorCode } from '../domain/errors.ts';
import { signRequest, type RequestSigner } from '../domain/http-signatures.ts';
import { parseStrictJson } from '../api/strict-json.ts';

export interface ClientOptions {
  /** e.g. `https://vault.example.com` or `https://example.com/strongroom`; no credentials, no query. */
  baseUrl: string;
  signer: Pick<RequestSigner, 'keyId' | 'alg' | 'sign'>;
  /** Plain http is refused except to loopback hosts, unless this is set (e.g. inside a private network). */
  allowInsecureHttp?: boolean;
}

/** A short-lived read session from `openSession()`. */
export interface Session {
  token: string;
  expiresAt: string;
}

export interface ReadOptions {
  /** Authenticate this read with a session instead of a signature. */
  session?: Session | string;
}

export interface WriteOptions {
  /** Sent as Idempotency-Key; POST gets a random UUID when omitted, so pass your own to retry safely. */
  idempotencyKey?: string;
}

export interface StrongroomClient {
  readonly baseUrl: string;
  get<T = unknown>(path: string, options?: ReadOptions): Promise<T>;
  post<T = unknown>(path: string, body?: unknown, options?: WriteOptions): Promise<T>;
  put<T = unknown>(path: string, body?: unknown, options?: WriteOptions): Promise<T>;
  patch<T = unknown>(path: string, body?: unknown, options?: WriteOptions): Promise<T>;
  delete<T = unknown>(path: string, body?: unknown, options?: WriteOptions): Promise<T>;
  /** Proves possession of the key twice (challenge, then session) and returns a read session. */
  openSession(): Promise<Session>;
  /**
   * Creates a wallet in the vault (which must be unsealed) with its first receive addresses.
   * @example
   * const w = await client.createWallet({ walletId: 'treasury', tier: 'warm' }, { idempotencyKey: 'create-treasury' });
   * console.log(w.addresses.map((a) => a.address));
   */
  createWallet(input: CreateWalletInput, options?: WriteOptions): Promise<WalletDetail>;
  /** @example const wallets = await client.listWallets({ limit: 50 }); */
  listWallets(options?: ReadOptions & { after?: string; limit?: number }): Promise<WalletSummary[]>;
  /** @example const w = await client.getWallet('treasury'); */
  getWallet(walletId: string, options?: ReadOptions): Promise<WalletDetail>;
  /** Every stored address of the wallet (receive and change). @example await client.walletAddresses('treasury'); */
  walletAddresses(walletId: string, options?: ReadOptions): Promise<WalletAddress[]>;
  /**
   * The next Bitcoin receive address of a kind, or the wallet's one EVM address.
   * @example const a = await client.newWalletAddress('treasury', { chain: 'bitcoin', kind: 'p2wpkh' });
   */
  newWalletAddress(walletId: string, input: { chain: 'bitcoin' | 'ethereum'; kind: 'p2wpkh' | 'p2tr' | 'evm' }, options?: WriteOptions): Promise<WalletAddress>;
  /** Per asset: available, pending and locked, in base units. @example await client.walletBalances('treasury'); */
  walletBalances(walletId: string, options?: ReadOptions): Promise<WalletBalance[]>;
  /** The wallet's deposits, newest first. @example await client.walletDeposits('treasury', { limit: 20 }); */
  walletDeposits(walletId: string, options?: ReadOptions & { before?: string; limit?: number }): Promise<WalletDeposit[]>;
}

export interface CreateWalletInput {
  /** 1-128 letters, digits, dot, dash, colon or underscore. */
  walletId: string;
  tier: 'hot' | 'warm' | 'cold';
  label?: string;
}

export interface WalletAddress {
  chain: 'bitcoin' | 'ethereum';
  kind: 'p2wpkh' | 'p2tr' | 'evm';
  /** 0 receive, 1 change. */
  change: number;
  index: number;
  address: string;
  path: string;
  createdAt: string;
}

export interface WalletSummary {
  walletId: string;
  tier: 'hot' | 'warm' | 'cold';
  label: string;
  fingerprint: string;
  network: string;
  xpubs: { bip84: string; bip86: string; bip44eth: string };
  createdAt: string;
}

export interface WalletDetail extends WalletSummary {
  addresses: WalletAddress[];
}

/** Base units as decimal strings. */
export interface WalletBalance {
  asset: string;
  chain: 'bitcoin' | 'ethereum';
  decimals: number;
  available: string;
  pending: string;
  locked: string;
}

export interface WalletDeposit {
  id: string;
  walletId: string;
  chain: 'bitcoin' | 'ethereum';
  asset: string;
  txid: string;
  position: number;
  address: string;
  amount: string;
  blockHeight: number;
  blockHash: string;
  confirmations: number;
  state: 'pending' | 'credited' | 'reorged';
  detectedAt: string;
  creditedAt: string | null;
  reorgedAt: string | null;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;
const ERROR_CODE = /^E_[A-Z0-9_]{1,64}$/;

/**
 * Creates a client that signs every request with `signer`.
 *
 * @example
 * const client = createClient({ baseUrl: 'https://vault.example.com', signer: loadKeyFile('./alice.key.json') });
 * const request = await client.post('/v1/requests', { type: 'transfer', ... }, { idempotencyKey: 'ops-4821' });
 * const session = await client.openSession();
 * const me = await client.get('/v1/me', { session });
 */
export function createClient(options: ClientOptions): StrongroomClient {
  const base = parseBaseUrl(options.baseUrl, options.allowInsecureHttp === true);
  const { signer } = options;

  async function send(
    method: string,
    path: string,
    body: unknown,
    extra: Record<string, string>,
    session?: Session | string,
  ) {
    const url = resolve(base, path);
    const bytes = body === undefined ? new Uint8Array(0) : serialize(body);
    const headers: Record<string, string> = {
      accept: 'application/json, application/problem+json',
      ...extra,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (session !== undefined) {
      headers.authorization = `Bearer ${typeof session === 'string' ? session : session.token}`;
    } else {
      Object.assign(headers, await signRequest({ method, targetUri: url, body: bytes, signer }));
    }
    let response: Response;
    try {
      // redirect 'manual': a 3xx becomes an error here; our signature or token never follows it elsewhere.
      response = await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: bytes }),
        redirect: 'manual',
      });
    } catch (cause) {
      throw new StrongroomError('E_NETWORK', `${method} ${pathOf(url)} failed: could not reach the server`, {
        details: { method, url },
        cause,
      });
    }
    return readResponse(response, method, url);
  }

  function write(method: string) {
    return async <T>(path: string, body?: unknown, opts: WriteOptions = {}): Promise<T> => {
      const key = opts.idempotencyKey ?? (method === 'POST' ? randomUUID() : undefined);
      if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
        throw new StrongroomError('E_VALIDATION', 'idempotencyKey must be 1..128 visible ASCII characters', {
          details: { parameter: 'idempotencyKey' },
        });
      }
      return (await send(method, path, body, key === undefined ? {} : { 'idempotency-key': key })) as T;
    };
  }

  const get = async <T>(path: string, opts: ReadOptions = {}) => (await send('GET', path, undefined, {}, opts.session)) as T;
  const post = write('POST');
  return {
    baseUrl: base,
    get: async <T>(path: string, opts: ReadOptions = {}) =>
      (await send('GET', path, undefined, {}, opts.session)) as T,
    post: write('POST'),
    put: write('PUT'),
    patch: write('PATCH'),
    delete: write('DELETE'),
    async openSession() {
      const { challenge } = expectFields(
        await send('POST', '/v1/sessions/challenge', undefined, { 'idempotency-key': randomUUID() }),
        ['challenge'],
      );
      const session = expectFields(
        await send('POST', '/v1/sessions', { challenge }, { 'idempotency-key': randomUUID() }),
        ['token', 'expiresAt'],
      );
      return { token: session.token, expiresAt: session.expiresAt };
    },
    createWallet: (input, opts) => post<WalletDetail>('/v1/wallets', input, opts),
    listWallets: (opts = {}) => get<WalletSummary[]>(`/v1/wallets${query({ after: opts.after, limit: opts.limit })}`, opts),
    getWallet: (id, opts) => get<WalletDetail>(`/v1/wallets/${walletPath(id)}`, opts),
    walletAddresses: (id, opts) => get<WalletAddress[]>(`/v1/wallets/${walletPath(id)}/addresses`, opts),
    newWalletAddress: (id, input, opts) => post<WalletAddress>(`/v1/wallets/${walletPath(id)}/addresses`, input, opts),
    walletBalances: (id, opts) => get<WalletBalance[]>(`/v1/wallets/${walletPath(id)}/balances`, opts),
    walletDeposits: (id, opts = {}) =>
      get<WalletDeposit[]>(`/v1/wallets/${walletPath(id)}/deposits${query({ before: opts.before, limit: opts.limit })}`, opts),
  };
}

function walletPath(walletId: string): string {
  if (typeof walletId !== 'string' || walletId.length === 0) {
    throw new StrongroomError('E_VALIDATION', 'walletId is required', { details: { parameter: 'walletId' } });
  }
  return encodeURIComponent(walletId);
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : '';
}

function parseBaseUrl(baseUrl: string, allowInsecureHttp: boolean): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new StrongroomError('E_VALIDATION', 'baseUrl is not an absolute URL', {
      details: { parameter: 'baseUrl' },
    });
  }
  const problem =
    url.protocol !== 'https:' && url.protocol !== 'http:'
      ? 'baseUrl must be http(s)'
      : url.username !== '' || url.password !== ''
        ? 'baseUrl must not carry credentials'
        : url.search !== '' || url.hash !== ''
          ? 'baseUrl must not have a query or fragment'
          : url.protocol === 'http:' && !allowInsecureHttp && !LOOPBACK.has(url.hostname)
            ? 'baseUrl must use https (plain http only to localhost, or with allowInsecureHttp)'
            : undefined;
  // Never echo the URL itself: it might hold credentials.
  if (problem) throw new StrongroomError('E_VALIDATION', problem, { details: { parameter: 'baseUrl' } });
  return url.href.replace(/\/+$/, '');
}

/** Joins base and path; a path can never change the origin (no `//host`, no absolute URL). */
function resolve(base: string, path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//') || /[\s#\\]/.test(path)) {
    throw new StrongroomError('E_VALIDATION', 'path must start with a single / and hold no spaces, # or \\', {
      details: { parameter: 'path' },
    });
  }
  const url = new URL(base + path);
  if (url.origin !== new URL(base).origin) {
    throw new StrongroomError('E_VALIDATION', 'path must stay on the client origin', {
      details: { parameter: 'path' },
    });
  }
  // The signed target URI is exactly what fetch puts on the wire (normalized, fragment-free).
  return url.href;
}

function serialize(body: unknown): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (cause) {
    throw new StrongroomError(
      'E_VALIDATION',
      'body cannot be serialized as JSON (amounts are decimal strings)',
      {
        details: { parameter: 'body' },
        cause,
      },
    );
  }
  if (text === undefined) {
    throw new StrongroomError('E_VALIDATION', 'body cannot be serialized as JSON', {
      details: { parameter: 'body' },
    });
  }
  return new TextEncoder().encode(text);
}

async function readResponse(response: Response, method: string, url: string): Promise<unknown> {
  const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const text = await response.text();
  if (response.ok) {
    if (text.length === 0) return undefined;
    if (type !== 'application/json') return text;
    return parseBody(text, response.status, method, url);
  }
  if (type === 'application/problem+json' || type === 'application/json') {
    let problem: unknown;
    try {
      problem = parseStrictJson(text);
    } catch {
      problem = undefined;
    }
    if (problem !== null && typeof problem === 'object' && !Array.isArray(problem)) {
      throw fromProblem(problem as Record<string, unknown>, response.status, method, url);
    }
  }
  throw new StrongroomError(
    'E_UNEXPECTED_RESPONSE',
    `${method} ${pathOf(url)} answered HTTP ${response.status}`,
    {
      details: { status: response.status, method, url },
    },
  );
}

function parseBody(text: string, status: number, method: string, url: string): unknown {
  try {
    return parseStrictJson(text);
  } catch (cause) {
    throw new StrongroomError('E_UNEXPECTED_RESPONSE', `${method} ${pathOf(url)} answered malformed JSON`, {
      details: { status, method, url },
      cause,
    });
  }
}

/** RFC 9457 problem details become a StrongroomError with the server's stable code. */
function fromProblem(
  p: Record<string, unknown>,
  status: number,
  method: string,
  url: string,
): StrongroomError {
  const code = (
    typeof p.code === 'string' && ERROR_CODE.test(p.code) ? p.code : 'E_UNEXPECTED_RESPONSE'
  ) as ErrorCode;
  const message =
    typeof p.detail === 'string' ? p.detail : typeof p.title === 'string' ? p.title : `HTTP ${status}`;
  const hints = Array.isArray(p.hints) ? p.hints.filter((h): h is string => typeof h === 'string') : [];
  const serverDetails =
    p.details !== null && typeof p.details === 'object' && !Array.isArray(p.details) ? p.details : {};
  return new StrongroomError(code, message, {
    hints,
    details: {
      ...(serverDetails as Record<string, unknown>),
      status,
      method,
      url,
      ...(typeof p.type === 'string' ? { type: p.type } : {}),
      ...(typeof p.instance === 'string' ? { instance: p.instance } : {}),
    },
  });
}

function expectFields<K extends string>(value: unknown, fields: K[]): Record<K, string> {
  if (value === null || typeof value !== 'object') {
    throw new StrongroomError('E_UNEXPECTED_RESPONSE', 'expected a JSON object from the server');
  }
  const v = value as Record<string, unknown>;
  for (const f of fields) {
    if (typeof v[f] !== 'string') {
      throw new StrongroomError('E_UNEXPECTED_RESPONSE', `expected a string "${f}" from the server`, {
        details: { field: f },
      });
    }
  }
  return v as Record<K, string>;
}

function pathOf(url: string): string {
  return new URL(url).pathname;
}
