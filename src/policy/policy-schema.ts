/**
 * The policy document: ordered rules, first match wins, default deny. Written with TypeBox so the same
 * definition validates documents and publishes a JSON Schema (policy.schema.json beside this file).
 * Amounts are decimal strings of base units (fiat: minor units, e.g. cents), never JSON numbers.
 */
import { Type, type Static, type TLiteral, type TSchema, type TUnion } from '@sinclair/typebox';

/** Wallet, user, group and rule identifiers: short and printable, no spaces. */
export const Identifier = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$' });
/** Non-negative integer in base units (or fiat minor units) as a decimal string; up to uint256. */
export const UnitsString = Type.String({ pattern: '^(0|[1-9][0-9]{0,77})$' });
const Hhmm = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$' });

const strict = { additionalProperties: false } as const;
const nonEmptyList = <T extends TSchema>(item: T) => Type.Array(item, { minItems: 1, uniqueItems: true });

export const TIERS = ['hot', 'warm', 'cold'] as const;
export const REQUEST_TYPES = [
  'transfer',
  'contract_call',
  'token_deploy',
  'token_mint',
  'token_burn',
  'governance',
] as const;
/** Address-book trust levels, lowest first. Governance stores one of these per entry. */
export const TRUST_LEVELS = ['low', 'medium', 'high'] as const;
/** Screening (KYT / sanctions) risk, lowest first; a `maxRisk` condition holds at or below its level. */
export const RISK_LEVELS = ['low', 'medium', 'high', 'severe'] as const;
export const VELOCITY_SCOPES = ['wallet', 'asset', 'initiator'] as const;
export const DECISIONS = ['deny', 'approve', 'workflow'] as const;

type Literals<T extends readonly string[]> = { -readonly [K in keyof T]: TLiteral<T[K]> };
const literals = <const T extends readonly string[]>(values: T): TUnion<Literals<T>> =>
  Type.Union(values.map((v) => Type.Literal(v))) as unknown as TUnion<Literals<T>>;

export const Tier = literals(TIERS);
export const RequestType = literals(REQUEST_TYPES);
export const TrustLevel = literals(TRUST_LEVELS);
export const RiskLevel = literals(RISK_LEVELS);
export const VelocityScope = literals(VELOCITY_SCOPES);
export const Decision = literals(DECISIONS);

export const Range = Type.Object(
  { min: Type.Optional(UnitsString), max: Type.Optional(UnitsString) },
  { ...strict, minProperties: 1, description: 'inclusive bounds, decimal strings' },
);

export const DestinationCondition = Type.Object(
  {
    kind: literals(['address_book', 'internal_wallet', 'any'] as const),
    /** address_book only: the entry's trust level must be one of these. */
    trust: Type.Optional(nonEmptyList(TrustLevel)),
    /** address_book only: the entry must not be locked. */
    unlockedOnly: Type.Optional(Type.Boolean()),
  },
  strict,
);

export const TimeWindowCondition = Type.Object(
  {
    /** ISO weekdays of `now`: 1 = Monday … 7 = Sunday. */
    days: nonEmptyList(Type.Integer({ minimum: 1, maximum: 7 })),
    /** `from` ≤ time-of-day < `to`; `to` may be "24:00". Overnight windows are two rules. */
    from: Hhmm,
    to: Hhmm,
    tz: Type.Literal('UTC'),
  },
  strict,
);

export const VelocityCondition = Type.Object(
  {
    windowSeconds: Type.Integer({ minimum: 1, maximum: 366 * 86400 }),
    scope: VelocityScope,
    /** Holds when the recorded rolling sum plus this request's amount stays at or below the limit. */
    maxUnits: Type.Optional(UnitsString),
    maxFiat: Type.Optional(UnitsString),
  },
  strict,
);

export const Conditions = Type.Object(
  {
    requestType: Type.Optional(nonEmptyList(RequestType)),
    wallet: Type.Optional(nonEmptyList(Identifier)),
    tier: Type.Optional(nonEmptyList(Tier)),
    chain: Type.Optional(nonEmptyList(Identifier)),
    asset: Type.Optional(nonEmptyList(Identifier)),
    initiator: Type.Optional(nonEmptyList(Identifier)),
    /** Holds when the initiator is in any of these groups. */
    initiatorGroups: Type.Optional(nonEmptyList(Identifier)),
    destination: Type.Optional(DestinationCondition),
    amount: Type.Optional(Range),
    fiat: Type.Optional(Range),
    timeWindow: Type.Optional(TimeWindowCondition),
    screening: Type.Optional(Type.Object({ maxRisk: RiskLevel }, strict)),
    velocity: Type.Optional(VelocityCondition),
  },
  strict,
);

export const WorkflowStep = Type.Object(
  {
    group: Identifier,
    k: Type.Integer({ minimum: 1, maximum: 100 }),
    /** Default true: the initiator never approves their own request. */
    excludeInitiator: Type.Optional(Type.Boolean()),
    /** Default true: nobody counted for an earlier step counts again here. */
    distinctFromEarlierSteps: Type.Optional(Type.Boolean()),
  },
  strict,
);

export const Workflow = Type.Object(
  {
    steps: Type.Array(WorkflowStep, { minItems: 1, maxItems: 16 }),
    expiresInSeconds: Type.Integer({ minimum: 60, maximum: 90 * 86400 }),
    timeLock: Type.Optional(
      Type.Object(
        { seconds: Type.Integer({ minimum: 1, maximum: 90 * 86400 }), vetoGroup: Identifier },
        strict,
      ),
    ),
  },
  strict,
);

export const Action = Type.Union([
  Type.Literal('deny'),
  Type.Literal('approve'),
  Type.Object({ workflow: Workflow }, strict),
]);

export const Rule = Type.Object(
  {
    id: Identifier,
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    when: Conditions,
    action: Action,
  },
  strict,
);

/** What the request says, as recorded (JSON form; see evaluation-input.ts for the evaluated form). */
export const PolicyRequestJson = Type.Object(
  {
    id: Type.Optional(Identifier),
    type: RequestType,
    initiator: Identifier,
    wallet: Type.Optional(Identifier),
    chain: Type.Optional(Identifier),
    asset: Type.Optional(Identifier),
    amount: Type.Optional(UnitsString),
    /** Destination address or contract, as written in the request. */
    destination: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  },
  strict,
);

export const DestinationContextJson = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('address_book'),
      entryId: Type.Optional(Identifier),
      trust: TrustLevel,
      locked: Type.Boolean(),
    },
    strict,
  ),
  Type.Object({ kind: Type.Literal('internal_wallet'), walletId: Type.Optional(Identifier) }, strict),
  Type.Object({ kind: Type.Literal('external') }, strict),
]);

export const VelocitySumJson = Type.Object(
  {
    scope: VelocityScope,
    windowSeconds: Type.Integer({ minimum: 1 }),
    /** Sum of already-approved amounts of this request's asset in the window, base units. */
    units: UnitsString,
    /** The same sum in fiat minor units, when priced. */
    fiat: Type.Optional(UnitsString),
  },
  strict,
);

/** What was gathered before the policy ran (prices, screening, velocity sums, governance facts). */
export const PolicyContextJson = Type.Object(
  {
    tier: Type.Optional(Tier),
    initiatorGroups: Type.Optional(Type.Array(Identifier, { uniqueItems: true })),
    destination: Type.Optional(DestinationContextJson),
    /** This request's amount in fiat minor units. */
    fiat: Type.Optional(UnitsString),
    screening: Type.Optional(Type.Object({ risk: RiskLevel }, strict)),
    velocity: Type.Optional(Type.Array(VelocitySumJson, { maxItems: 64 })),
  },
  strict,
);

export const PolicyTestCase = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    request: PolicyRequestJson,
    context: PolicyContextJson,
    /** Evaluation time, ISO 8601 in UTC ("2025-01-15T10:20:30Z"); default 1970-01-01T00:00:00Z. */
    at: Type.Optional(
      Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,3})?)?Z$' }),
    ),
    expect: Type.Object(
      { decision: Decision, rule: Type.Optional(Type.Union([Identifier, Type.Null()])) },
      strict,
    ),
  },
  strict,
);

export const PolicyDocumentSchema = Type.Object(
  {
    /** Format version of this document (not the policy's revision, which governance assigns). */
    version: Type.Literal(1),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    rules: Type.Array(Rule, { maxItems: 10_000 }),
    tests: Type.Optional(Type.Array(PolicyTestCase, { maxItems: 10_000 })),
  },
  {
    ...strict,
    $id: 'https://strongroom.dev/schemas/policy.schema.json',
    title: 'Strongroom policy document',
    description: 'Ordered rules, first match wins, default deny. Amounts are decimal strings of base units.',
  },
);

export type TierName = Static<typeof Tier>;
export type RequestTypeName = Static<typeof RequestType>;
export type TrustLevelName = Static<typeof TrustLevel>;
export type RiskLevelName = Static<typeof RiskLevel>;
export type VelocityScopeName = Static<typeof VelocityScope>;
export type DecisionName = Static<typeof Decision>;
export type RangeJson = Static<typeof Range>;
export type ConditionsJson = Static<typeof Conditions>;
export type WorkflowStepJson = Static<typeof WorkflowStep>;
export type WorkflowJson = Static<typeof Workflow>;
export type ActionJson = Static<typeof Action>;
export type RuleJson = Static<typeof Rule>;
export type PolicyRequestJsonType = Static<typeof PolicyRequestJson>;
export type PolicyContextJsonType = Static<typeof PolicyContextJson>;
export type PolicyTestCaseJson = Static<typeof PolicyTestCase>;
export type PolicyDocument = Static<typeof PolicyDocumentSchema>;

/** The published JSON Schema (draft 2020-12 compatible), as plain JSON. */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    ...(JSON.parse(JSON.stringify(PolicyDocumentSchema)) as object),
  };
}
