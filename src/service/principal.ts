/** Who is calling: established by a verified signature (writes) or a session token (reads only). */
export interface Principal {
  tenant: string;
  userId: string;
  keyId: string;
  /** Present when the call was signed (every write). */
  signature?: SignedCall;
}

/** The parts of a verified signed HTTP request that are kept as evidence and used against replay. */
export interface SignedCall {
  nonce: string;
  created: number;
  method: string;
  targetUri: string;
  signatureInput: string;
  signature: string;
  contentDigest: string;
  /** The raw body as received. */
  body: string;
}

/** What a creating call answered, kept so that an idempotent repeat answers the same. */
export interface Reply<T = unknown> {
  status: number;
  body: T;
}
