/**
 * The governance request kinds and the shape of each payload, as TypeBox schemas so that a payload is
 * checked strictly (no unknown fields) before anything reads it. What a kind *does* is in transitions.ts.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { StrongroomError } from '../domain/errors.ts';
import type { KeyAlgorithm } from '../domain/keys.ts';
import { Identifier, TrustLevel } from '../policy/index.ts';

const strict = { additionalProperties: false } as const;

export const DigestString = Type.String({ pattern: '^sha256:[0-9a-f]{64}$' });
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Alg = Type.Union([
  Type.Literal('ed25519'),
  Type.Literal('ecdsa-p256-sha256'),
  Type.Literal('ecdsa-secp256k1-sha256'),
]);
/** Parsed strictly later (parsePublicKey); this only bounds the size. */
const PublicKeyB64 = Type.String({ minLength: 1, maxLength: 256 });
const NewKey = Type.Object({ alg: Alg, publicKey: PublicKeyB64 }, strict);
const FreezeTarget = Type.Union([
  Type.Object({ scope: Type.Literal('tenant') }, strict),
  Type.Object({ scope: Type.Literal('wallet'), walletId: Identifier }, strict),
]);

export const PAYLOAD_SCHEMAS = {
  add_user: Type.Object(
    {
      userId: Identifier,
      name: Name,
      kind: Type.Union([Type.Literal('person'), Type.Literal('service')]),
      keys: Type.Array(NewKey, { minItems: 1, maxItems: 16 }),
      groups: Type.Optional(Type.Array(Identifier, { uniqueItems: true, maxItems: 64 })),
    },
    strict,
  ),
  remove_user: Type.Object({ userId: Identifier }, strict),
  add_key: Type.Object({ userId: Identifier, alg: Alg, publicKey: PublicKeyB64 }, strict),
  revoke_key: Type.Object(
    { userId: Identifier, keyId: Type.String({ minLength: 1, maxLength: 64 }) },
    strict,
  ),
  set_group_members: Type.Object(
    { group: Identifier, members: Type.Array(Identifier, { uniqueItems: true, maxItems: 10_000 }) },
    strict,
  ),
  add_group_member: Type.Object({ group: Identifier, userId: Identifier }, strict),
  remove_group_member: Type.Object({ group: Identifier, userId: Identifier }, strict),
  publish_policy: Type.Object(
    {
      version: Type.Integer({ minimum: 1 }),
      digest: DigestString,
      /** The policy document itself: validated by the policy engine, its digest must match `digest`. */
      document: Type.Unknown(),
    },
    strict,
  ),
  address_book_add: Type.Object(
    {
      entryId: Identifier,
      alias: Name,
      chain: Identifier,
      address: Type.String({ minLength: 1, maxLength: 256 }),
      trust: TrustLevel,
      locked: Type.Optional(Type.Boolean()),
    },
    strict,
  ),
  address_book_lock: Type.Object({ entryId: Identifier }, strict),
  address_book_unlock: Type.Object({ entryId: Identifier }, strict),
  change_quorum: Type.Object({ group: Identifier, k: Type.Integer({ minimum: 1, maximum: 100 }) }, strict),
  freeze: FreezeTarget,
  unfreeze: FreezeTarget,
} satisfies Record<string, TSchema>;

export type RequestKind = keyof typeof PAYLOAD_SCHEMAS;
export const REQUEST_KINDS = Object.keys(PAYLOAD_SCHEMAS) as RequestKind[];
export type PayloadOf<K extends RequestKind> = Static<(typeof PAYLOAD_SCHEMAS)[K]>;
export type FreezeTargetJson = Static<typeof FreezeTarget>;

export function isRequestKind(value: unknown): value is RequestKind {
  return typeof value === 'string' && Object.hasOwn(PAYLOAD_SCHEMAS, value);
}

const checkers = Object.fromEntries(
  REQUEST_KINDS.map((k) => [k, TypeCompiler.Compile(PAYLOAD_SCHEMAS[k] as TSchema)]),
) as Record<RequestKind, TypeCheck<TSchema>>;

/** Throws E_VALIDATION naming the first bad field of `payload` for `kind`. */
export function checkPayload<K extends RequestKind>(
  kind: K,
  payload: unknown,
): asserts payload is PayloadOf<K> {
  const check = checkers[kind];
  if (!check.Check(payload)) {
    const errors = [...check.Errors(payload)]
      .slice(0, 10)
      .map((e) => ({ path: e.path || '/', message: e.message }));
    const first = errors[0] ?? { path: '/', message: 'invalid' };
    throw new StrongroomError('E_VALIDATION', `${kind} payload ${first.path}: ${first.message}`, {
      details: { field: `payload${first.path}`, kind, errors },
    });
  }
}

// Keeps Alg in step with the domain's list: a new algorithm there fails to compile here until added.
type _AlgInStep = [KeyAlgorithm] extends [Static<typeof Alg>] ? true : never;
const _algInStep: _AlgInStep = true;
void _algInStep;
