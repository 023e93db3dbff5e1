/**
 * What `evaluate` reads: the request (what the initiator signed) and the recorded context (what was gathered
 * before the policy ran). Amounts are bigint here; the JSON forms (decimal strings) are converted once at
 * the edge with `toPolicyRequest` / `toPolicyContext`, which validate strictly.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { StrongroomError } from '../domain/errors.ts';
import type { Amount } from '../domain/amount.ts';
import {
  PolicyContextJson,
  PolicyRequestJson,
  type PolicyContextJsonType,
  type PolicyRequestJsonType,
  type RequestTypeName,
  type RiskLevelName,
  type TierName,
  type TrustLevelName,
  type VelocityScopeName,
} from './policy-schema.ts';

export interface PolicyRequest {
  readonly id?: string;
  readonly type: RequestTypeName;
  readonly initiator: string;
  readonly wallet?: string;
  readonly chain?: string;
  readonly asset?: string;
  /** Base units. Absent for requests that move nothing (e.g. governance). */
  readonly amount?: Amount;
  readonly destination?: string;
}

export type DestinationContext =
  | {
      readonly kind: 'address_book';
      readonly entryId?: string;
      readonly trust: TrustLevelName;
      readonly locked: boolean;
    }
  | { readonly kind: 'internal_wallet'; readonly walletId?: string }
  | { readonly kind: 'external' };

/** Rolling sum of amounts already approved in the window for this request's scope key (wallet, asset or initiator). */
export interface VelocitySum {
  readonly scope: VelocityScopeName;
  readonly windowSeconds: number;
  /** Base units of this request's asset. */
  readonly units: Amount;
  /** Fiat minor units, when priced. */
  readonly fiat?: Amount;
}

/**
 * Facts recorded with the request. A condition that needs an absent fact makes the whole evaluation deny
 * (indeterminate): the policy never guesses.
 */
export interface PolicyContext {
  readonly tier?: TierName;
  readonly initiatorGroups?: readonly string[];
  readonly destination?: DestinationContext;
  /** This request's amount in fiat minor units (e.g. cents). */
  readonly fiat?: Amount;
  readonly screening?: { readonly risk: RiskLevelName };
  readonly velocity?: readonly VelocitySum[];
}

const checkRequest = TypeCompiler.Compile(PolicyRequestJson);
const checkContext = TypeCompiler.Compile(PolicyContextJson);

function invalid(what: string, errors: Iterable<{ path: string; message: string }>): never {
  const list = [...errors].slice(0, 10).map((e) => ({ path: e.path || '/', message: e.message }));
  const first = list[0] ?? { path: '/', message: 'invalid' };
  throw new StrongroomError('E_VALIDATION', `${what} ${first.path}: ${first.message}`, {
    details: { field: `${what}${first.path}`, path: first.path, errors: list },
  });
}

/** Validates a recorded request (JSON form) and converts its amount to bigint. Throws E_VALIDATION. */
export function toPolicyRequest(json: unknown): PolicyRequest {
  if (!checkRequest.Check(json)) invalid('request', checkRequest.Errors(json));
  const r = json as PolicyRequestJsonType;
  const { amount, ...rest } = r;
  return amount === undefined ? rest : { ...rest, amount: BigInt(amount) };
}

/** Validates a recorded context (JSON form) and converts its amounts to bigint. Throws E_VALIDATION. */
export function toPolicyContext(json: unknown): PolicyContext {
  if (!checkContext.Check(json)) invalid('context', checkContext.Errors(json));
  const c = json as PolicyContextJsonType;
  const { fiat, velocity, ...rest } = c;
  const out: { -readonly [K in keyof PolicyContext]: PolicyContext[K] } = { ...rest };
  if (fiat !== undefined) out.fiat = BigInt(fiat);
  if (velocity !== undefined) {
    out.velocity = velocity.map((v) => {
      const sum: VelocitySum = { scope: v.scope, windowSeconds: v.windowSeconds, units: BigInt(v.units) };
      return v.fiat === undefined ? sum : { ...sum, fiat: BigInt(v.fiat) };
    });
  }
  return out;
}
