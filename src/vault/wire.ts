/**
 * The vault's wire format over a local socket: newline-delimited JSON, one object per line.
 *
 *   request   {"id": 1, "method": "createWallet", "params": ["tenant", {...}]}
 *   progress  {"id": 1, "progress": {...}}          (rewrap only, zero or more, before the answer)
 *   answer    {"id": 1, "result": ...} | {"id": 1, "error": {"code", "message", "hints", "details"}}
 *
 * Bytes travel as {"$bytes": "<base64>"}; errors as the StrongroomError's public JSON only (never a cause).
 */
import { StrongroomError, type ErrorCode } from '../domain/errors.ts';
import { fromBase64, toBase64 } from './bytes.ts';

/** Methods a client may call: exactly the `Vault` interface, nothing else. */
export const VAULT_METHODS = [
  'status',
  'initialize',
  'unseal',
  'seal',
  'zeroize',
  'restore',
  'rekey',
  'rotate',
  'rewrap',
  'createWallet',
  'importWallet',
  'wallet',
  'auditPublicKey',
  'signAuditCheckpoint',
  'exportWallets',
  'governanceHead',
  'acceptGovernanceHead',
  'authorize',
  'signWithdrawal',
] as const;
export type VaultMethod = (typeof VAULT_METHODS)[number];

/** Longest accepted line (an export of many wallets is the largest answer). */
export const MAX_LINE_BYTES = 256 * 1024 * 1024;

export function encodeWire(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: toBase64(value) };
  if (Array.isArray(value)) return value.map(encodeWire);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (typeof v !== 'function' && v !== undefined) out[k] = encodeWire(v);
    return out;
  }
  return value;
}

export function decodeWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeWire);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '$bytes') return fromBase64(o.$bytes as string, '$bytes');
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
      out[k] = decodeWire(o[k]);
    }
    return out;
  }
  return value;
}

export function errorToWire(e: unknown): { code: ErrorCode; message: string; hints: string[]; details: Record<string, unknown> } {
  if (e instanceof StrongroomError) return e.toJSON();
  // Anything else may carry library text we do not control: say only that it failed.
  return { code: 'E_INTERNAL', message: 'the vault failed unexpectedly', hints: ['see the vault process log'], details: {} };
}

export function errorFromWire(w: { code?: unknown; message?: unknown; hints?: unknown; details?: unknown }): StrongroomError {
  return new StrongroomError((typeof w?.code === 'string' ? w.code : 'E_INTERNAL') as ErrorCode, String(w?.message ?? 'vault error'), {
    hints: Array.isArray(w?.hints) ? w.hints.map(String) : [],
    details: w?.details && typeof w.details === 'object' ? (w.details as Record<string, unknown>) : {},
  });
}

/** Splits a byte stream into lines, refusing over-long ones. */
export function lineSplitter(onLine: (line: string) => void, onTooLong: () => void): (chunk: Buffer) => void {
  let pending: Buffer[] = [];
  let size = 0;
  return (chunk) => {
    let start = 0;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, i));
      onLine(Buffer.concat(pending).toString('utf8'));
      pending = [];
      size = 0;
      start = i + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      size += chunk.length - start;
      if (size > MAX_LINE_BYTES) {
        pending = [];
        size = 0;
        onTooLong();
      }
    }
  };
}
