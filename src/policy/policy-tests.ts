/**
 * Policy as code: a document carries test cases (request and context → expected decision and rule);
 * publishing refuses a document whose tests fail.
 */
import { StrongroomError } from '../domain/errors.ts';
import { compilePolicy, type CompiledPolicy } from './compile-policy.ts';
import { evaluate, type TraceEntry } from './evaluate.ts';
import { toPolicyContext, toPolicyRequest } from './evaluation-input.ts';
import { lintPolicy, type PolicyWarning } from './lint-policy.ts';
import { validatePolicy } from './parse-policy.ts';
import type { DecisionName, PolicyDocument } from './policy-schema.ts';

export interface PolicyTestFailure {
  readonly name: string;
  readonly expected: { readonly decision: DecisionName; readonly rule?: string | null };
  readonly actual: { readonly decision: DecisionName; readonly rule: string | null };
  readonly trace: readonly TraceEntry[];
}

export interface PolicyTestReport {
  readonly passed: readonly string[];
  readonly failed: readonly PolicyTestFailure[];
}

/** Runs the document's own tests. Validates first (E_POLICY_INVALID). */
export function runPolicyTests(
  doc: PolicyDocument,
  compiled: CompiledPolicy = compilePolicy(doc),
): PolicyTestReport {
  const passed: string[] = [];
  const failed: PolicyTestFailure[] = [];
  for (const t of compiled.document.tests ?? []) {
    const result = evaluate(
      compiled,
      toPolicyRequest(t.request),
      toPolicyContext(t.context),
      t.at === undefined ? 0 : Date.parse(t.at),
    );
    const ok =
      result.decision === t.expect.decision &&
      (t.expect.rule === undefined || t.expect.rule === result.ruleId);
    if (ok) passed.push(t.name);
    else
      failed.push({
        name: t.name,
        expected: t.expect,
        actual: { decision: result.decision, rule: result.ruleId },
        trace: result.trace,
      });
  }
  return { passed, failed };
}

export interface Publishable {
  readonly compiled: CompiledPolicy;
  readonly warnings: readonly PolicyWarning[];
  readonly tests: PolicyTestReport;
}

/**
 * Throws E_POLICY_INVALID for a document that does not validate and E_POLICY_TESTS_FAILED, listing the
 * failing tests, when any of its own tests fails. Returns the compiled policy (and its digest) and warnings.
 */
export function assertPublishable(value: unknown): Publishable {
  const doc = validatePolicy(value);
  const compiled = compilePolicy(doc);
  const tests = runPolicyTests(doc, compiled);
  if (tests.failed.length > 0) {
    throw new StrongroomError(
      'E_POLICY_TESTS_FAILED',
      `${tests.failed.length} policy test(s) failed: ${tests.failed.map((f) => f.name).join(', ')}`,
      {
        details: {
          failed: tests.failed.map(({ name, expected, actual }) => ({ name, expected, actual })),
          passed: tests.passed.length,
        },
        hints: ['run `strongroom policy test` to see each failing test with its trace'],
      },
    );
  }
  return { compiled, warnings: lintPolicy(compiled.document), tests };
}
