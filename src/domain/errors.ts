/**
 * One error base for the whole code base. Callers match on `code`, never on message text; the API maps
 * codes to RFC 9457 problem details in one table (src/api/problem.ts).
 */
export type ErrorCode =
  // input
  | 'E_BAD_REQUEST'
  | 'E_VALIDATION'
  | 'E_JSON_MALFORMED'
  | 'E_JSON_DUPLICATE_KEY'
  | 'E_JSON_FORBIDDEN_KEY'
  | 'E_BODY_TOO_LARGE'
  | 'E_AMOUNT_INVALID'
  | 'E_AMOUNT_NEGATIVE'
  | 'E_AMOUNT_TOO_PRECISE'
  | 'E_AMOUNT_NOT_STRING'
  | 'E_UNKNOWN_ASSET'
  // authentication
  | 'E_SIGNATURE_MISSING'
  | 'E_SIGNATURE_INVALID'
  | 'E_SIGNATURE_EXPIRED'
  | 'E_SIGNATURE_FUTURE'
  | 'E_DIGEST_MISMATCH'
  | 'E_NONCE_REPLAYED'
  | 'E_KEY_UNKNOWN'
  | 'E_KEY_REVOKED'
  | 'E_SESSION_INVALID'
  | 'E_FORBIDDEN'
  // resources
  | 'E_NOT_FOUND'
  | 'E_CONFLICT'
  | 'E_IDEMPOTENCY_KEY_REQUIRED'
  | 'E_IDEMPOTENCY_CONFLICT'
  | 'E_ALREADY_INITIALIZED'
  | 'E_NOT_INITIALIZED'
  // audit
  | 'E_AUDIT_WRITE_FAILED'
  | 'E_AUDIT_CHAIN_BROKEN'
  // vault
  | 'E_VAULT_SEALED'
  | 'E_VAULT_ZEROIZED'
  | 'E_VAULT_UNINITIALIZED'
  | 'E_VAULT_ALREADY_INITIALIZED'
  | 'E_SHARES_INSUFFICIENT'
  | 'E_SHARE_INVALID'
  | 'E_SHARE_DUPLICATE'
  | 'E_PASSPHRASE_WRONG'
  | 'E_CRYPTOGRAM_INVALID'
  | 'E_CRYPTOGRAM_VERSION'
  | 'E_HSM'
  | 'E_PIN_INCORRECT'
  | 'E_KEY_MATERIAL_INVALID'
  // governance and policy
  | 'E_POLICY_INVALID'
  | 'E_POLICY_DENIED'
  | 'E_POLICY_TESTS_FAILED'
  | 'E_QUORUM_INCOMPLETE'
  | 'E_QUORUM_UNSATISFIABLE'
  | 'E_GOVERNANCE_ROLLBACK'
  | 'E_GOVERNANCE_CHAIN_INVALID'
  | 'E_EVIDENCE_INVALID'
  | 'E_FROZEN'
  | 'E_REQUEST_EXPIRED'
  | 'E_REQUEST_STATE'
  | 'E_REQUEST_REJECTED'
  // chains
  | 'E_ADDRESS_INVALID'
  | 'E_ADDRESS_LOOKALIKE'
  | 'E_CHAIN_RPC'
  | 'E_UTXO_UNAVAILABLE'
  | 'E_CHAIN_NOT_CONFIGURED'
  | 'E_INSUFFICIENT_FUNDS'
  | 'E_FEE_TOO_HIGH'
  | 'E_TX_CONFLICT'
  // SDK client: the server could not be reached, or answered outside the API contract
  | 'E_NETWORK'
  | 'E_UNEXPECTED_RESPONSE'
  | 'E_INTERNAL';

export interface StrongroomErrorOptions {
  /** Short hints for a human: what to check or do next. Never secrets. */
  hints?: string[];
  /** Structured, non-secret details (e.g. the offending parameter name). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class StrongroomError extends Error {
  readonly code: ErrorCode;
  readonly hints: string[];
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: StrongroomErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StrongroomError';
    this.code = code;
    this.hints = options.hints ?? [];
    this.details = options.details ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; hints: string[]; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, hints: this.hints, details: this.details };
  }
}

export function isStrongroomError(e: unknown, code?: ErrorCode): e is StrongroomError {
  return e instanceof StrongroomError && (code === undefined || e.code === code);
}
