/** The one table from stable error codes to HTTP statuses (RFC 9457 problem details). */
import type { ErrorCode } from '../domain/errors.ts';

const STATUS: Partial<Record<ErrorCode, number>> = {
  E_BAD_REQUEST: 400,
  E_VALIDATION: 400,
  E_JSON_MALFORMED: 400,
  E_JSON_DUPLICATE_KEY: 400,
  E_JSON_FORBIDDEN_KEY: 400,
  E_AMOUNT_INVALID: 400,
  E_AMOUNT_NEGATIVE: 400,
  E_AMOUNT_TOO_PRECISE: 400,
  E_AMOUNT_NOT_STRING: 400,
  E_UNKNOWN_ASSET: 400,
  E_IDEMPOTENCY_KEY_REQUIRED: 400,
  E_ADDRESS_INVALID: 400,
  E_ADDRESS_LOOKALIKE: 400,
  E_POLICY_INVALID: 400,
  E_POLICY_TESTS_FAILED: 400,
  E_SIGNATURE_MISSING: 401,
  E_SIGNATURE_INVALID: 401,
  E_SIGNATURE_EXPIRED: 401,
  E_SIGNATURE_FUTURE: 401,
  E_DIGEST_MISMATCH: 401,
  E_NONCE_REPLAYED: 401,
  E_KEY_UNKNOWN: 401,
  E_KEY_REVOKED: 401,
  E_SESSION_INVALID: 401,
  E_FORBIDDEN: 403,
  E_POLICY_DENIED: 403,
  E_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_IDEMPOTENCY_CONFLICT: 409,
  E_ALREADY_INITIALIZED: 409,
  E_REQUEST_STATE: 409,
  E_QUORUM_UNSATISFIABLE: 409,
  E_FROZEN: 409,
  E_BODY_TOO_LARGE: 413,
  E_VAULT_SEALED: 503,
  E_VAULT_ZEROIZED: 503,
  E_VAULT_UNINITIALIZED: 503,
  E_NOT_INITIALIZED: 503,
  E_AUDIT_WRITE_FAILED: 503,
  E_CHAIN_RPC: 502,
  E_EVIDENCE_INVALID: 422,
  E_QUORUM_INCOMPLETE: 409,
  E_GOVERNANCE_ROLLBACK: 409,
  E_GOVERNANCE_CHAIN_INVALID: 422,
  E_REQUEST_REJECTED: 409,
  E_REQUEST_EXPIRED: 409,
  E_SHARES_INSUFFICIENT: 400,
  E_SHARE_INVALID: 400,
  E_SHARE_DUPLICATE: 400,
  E_PASSPHRASE_WRONG: 400,
  E_PIN_INCORRECT: 400,
  E_KEY_MATERIAL_INVALID: 400,
  E_VAULT_ALREADY_INITIALIZED: 409,
  E_CRYPTOGRAM_INVALID: 422,
  E_CRYPTOGRAM_VERSION: 422,
  E_HSM: 502,
  E_UTXO_UNAVAILABLE: 409,
  E_CHAIN_NOT_CONFIGURED: 409,
  E_INSUFFICIENT_FUNDS: 409,
  E_FEE_TOO_HIGH: 409,
  E_TX_CONFLICT: 409,
};

export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? (code === 'E_INTERNAL' ? 500 : 400);
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  hints?: string[];
  details?: Record<string, unknown>;
  instance?: string;
}

export function problem(code: ErrorCode, detail: string, extra: Partial<Problem> = {}): Problem {
  return {
    type: `urn:strongroom:error:${code}`,
    title: code,
    status: statusOf(code),
    detail,
    code,
    ...extra,
  };
}
