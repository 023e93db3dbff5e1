/** The policy engine's public surface. Pure: time, context and randomness are inputs. */
export * from './policy-schema.ts';
export * from './evaluation-input.ts';
export * from './parse-policy.ts';
export * from './workflow-spec.ts';
export * from './compile-policy.ts';
export * from './evaluate.ts';
export type { ConditionFailure } from './conditions.ts';
export { CONDITION_ORDER } from './conditions.ts';
export * from './lint-policy.ts';
export * from './policy-tests.ts';
export * from './simulate.ts';
export * from './workflow-progress.ts';
