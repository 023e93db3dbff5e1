/**
 * Reading a policy document: JSON or YAML text → validated, normalized `PolicyDocument`, and its digest.
 * Strict on purpose: unknown fields, duplicate keys, numbers where amounts belong, YAML aliases and
 * self-contradicting conditions (min > max) are refused with E_POLICY_INVALID naming the JSON path.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parseDocument } from 'yaml';
import { digestOf, type Digest } from '../domain/canonical.ts';
import { StrongroomError } from '../domain/errors.ts';
import { PolicyDocumentSchema, type PolicyDocument, type RangeJson } from './policy-schema.ts';

export type PolicyFormat = 'json' | 'yaml';

interface Problem {
  path: string;
  message: string;
}

const checkDocument = TypeCompiler.Compile(PolicyDocumentSchema);

function refuse(problems: Problem[]): never {
  const first = problems[0] ?? { path: '/', message: 'invalid policy document' };
  throw new StrongroomError('E_POLICY_INVALID', `policy ${first.path}: ${first.message}`, {
    details: { path: first.path, errors: problems.slice(0, 20) },
    hints: ['amounts are decimal strings of base units (quote them in YAML), unknown fields are refused'],
  });
}

/** Parses JSON or YAML text strictly, then validates it (see `validatePolicy`). */
export function parsePolicyText(text: string, format: PolicyFormat): PolicyDocument {
  // YAML's parser also reports duplicate keys in JSON text (JSON is YAML 1.2), which JSON.parse hides.
  const doc = parseDocument(text, {
    uniqueKeys: true,
    strict: true,
    version: '1.2',
    schema: 'core',
    merge: false,
    prettyErrors: false,
  });
  const syntax = [...doc.errors, ...doc.warnings];
  if (syntax.length > 0) {
    refuse(
      syntax.map((e) => ({
        path: `line ${e.linePos?.[0]?.line ?? '?'}`,
        message: e.message.split('\n')[0] ?? e.code,
      })),
    );
  }
  let value: unknown;
  if (format === 'json') {
    try {
      value = JSON.parse(text);
    } catch (e) {
      refuse([{ path: '/', message: `not JSON: ${(e as Error).message}` }]);
    }
  } else {
    try {
      // No aliases: a policy is read by people, and anchors hide what a rule really says.
      value = doc.toJS({ maxAliasCount: 0 });
    } catch (e) {
      refuse([{ path: '/', message: (e as Error).message }]);
    }
  }
  return validatePolicy(value);
}

/** Validates a parsed value against the schema and the rules the schema cannot express. Throws E_POLICY_INVALID. */
export function validatePolicy(value: unknown): PolicyDocument {
  if (!checkDocument.Check(value)) {
    refuse([...checkDocument.Errors(value)].map((e) => ({ path: e.path || '/', message: e.message })));
  }
  const doc = value as PolicyDocument;
  const problems: Problem[] = [];
  const ruleIds = new Set<string>();
  doc.rules.forEach((rule, i) => {
    const at = `/rules/${i}`;
    if (ruleIds.has(rule.id)) problems.push({ path: `${at}/id`, message: `duplicate rule id "${rule.id}"` });
    ruleIds.add(rule.id);
    const w = rule.when;
    checkRange(w.amount, `${at}/when/amount`, problems);
    checkRange(w.fiat, `${at}/when/fiat`, problems);
    if (w.timeWindow && minutes(w.timeWindow.from) >= minutes(w.timeWindow.to)) {
      problems.push({
        path: `${at}/when/timeWindow`,
        message: '"from" must be before "to" (split overnight windows into two rules)',
      });
    }
    if (
      w.destination &&
      w.destination.kind !== 'address_book' &&
      (w.destination.trust || w.destination.unlockedOnly !== undefined)
    ) {
      problems.push({
        path: `${at}/when/destination`,
        message: 'trust and unlockedOnly apply to kind "address_book" only',
      });
    }
    if (w.velocity && w.velocity.maxUnits === undefined && w.velocity.maxFiat === undefined) {
      problems.push({ path: `${at}/when/velocity`, message: 'velocity needs maxUnits or maxFiat' });
    }
  });
  const testNames = new Set<string>();
  (doc.tests ?? []).forEach((t, i) => {
    const at = `/tests/${i}`;
    if (testNames.has(t.name))
      problems.push({ path: `${at}/name`, message: `duplicate test name "${t.name}"` });
    testNames.add(t.name);
    if (t.expect.rule != null && !ruleIds.has(t.expect.rule)) {
      problems.push({ path: `${at}/expect/rule`, message: `no rule "${t.expect.rule}"` });
    }
    if (t.at !== undefined && Number.isNaN(Date.parse(t.at)))
      problems.push({ path: `${at}/at`, message: 'not a valid time' });
  });
  if (problems.length > 0) refuse(problems);
  return doc;
}

/** Fills defaults, so that documents that mean the same thing have the same digest. Does not mutate. */
export function normalizePolicy(doc: PolicyDocument): PolicyDocument {
  return {
    ...doc,
    rules: doc.rules.map((rule) =>
      typeof rule.action === 'string'
        ? rule
        : {
            ...rule,
            action: {
              workflow: {
                ...rule.action.workflow,
                steps: rule.action.workflow.steps.map((s) => ({
                  ...s,
                  excludeInitiator: s.excludeInitiator ?? true,
                  distinctFromEarlierSteps: s.distinctFromEarlierSteps ?? true,
                })),
              },
            },
          },
    ),
  };
}

/** Content address of a policy: `sha256:` over the JCS bytes of the normalized document (tests included). */
export function policyDigest(doc: PolicyDocument): Digest {
  return digestOf(normalizePolicy(doc));
}

export function minutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

function checkRange(r: RangeJson | undefined, path: string, problems: Problem[]): void {
  if (r?.min !== undefined && r.max !== undefined && BigInt(r.min) > BigInt(r.max)) {
    problems.push({ path, message: `min ${r.min} is greater than max ${r.max}` });
  }
}
