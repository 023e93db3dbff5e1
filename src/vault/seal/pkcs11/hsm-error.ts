import pkcs11js from 'pkcs11js';
import { StrongroomError, type ErrorCode } from '../../../domain/errors.ts';

/**
 * Raw PKCS#11 failures become typed errors at the module's edge (the viem rule). Only the CKR name, its
 * number and the PKCS#11 function name survive: the native error object is not kept as `cause`, so nothing a
 * module might put in its text (never a PIN, but we do not rely on that) reaches logs or problem details.
 */
export function ckrName(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  // Pkcs11Error carries "CKR_NAME"; pkcs11js's C_CreateObject / C_SetAttributeValue / C_CopyObject skip its
  // wrapper and throw a plain Error "CKR_NAME:number".
  return /^(CKR_[A-Z0-9_]+)(?::\d+)?$/.exec(e.message)?.[1];
}

export function hsmError(e: unknown, operation: string, code: ErrorCode = 'E_HSM'): StrongroomError {
  if (e instanceof StrongroomError) return e;
  const ckr = ckrName(e);
  const method = e instanceof pkcs11js.NativeError && e.method ? e.method : undefined;
  const details: Record<string, unknown> = { operation };
  if (ckr) details.ckr = ckr;
  const ckrCode =
    e instanceof pkcs11js.Pkcs11Error
      ? e.code
      : Number(/^CKR_[A-Z0-9_]+:(\d+)$/.exec(String((e as Error)?.message))?.[1]);
  if (ckr && Number.isFinite(ckrCode)) details.ckrCode = ckrCode; // names the CKR pkcs11js calls VENDOR_DEFINED
  if (method) details.method = method;
  const why = ckr ?? (e instanceof Error ? e.name : 'unknown error');
  return new StrongroomError(code, `HSM ${operation} failed: ${why}`, { details });
}

/** Runs one PKCS#11 call, translating its failure. */
export function hsmCall<T>(operation: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw hsmError(e, operation);
  }
}
