/** The governance core's public surface. Pure: time and signatures are inputs; imports domain and policy only. */
export * from './governance-state.ts';
export * from './request-kinds.ts';
export * from './governance-request.ts';
export * from './approval.ts';
export * from './genesis.ts';
export * from './liveness.ts';
export {
  applyGovernanceRequest,
  DEFAULT_CLOCK_SKEW_MS,
  type ApplyOptions,
  type GovernanceTransition,
} from './apply-request.ts';
export * from './verify-chain.ts';
export * from './head-tracker.ts';
export {
  verifyUserSignature,
  verifyUserSignatureAsync,
  genesisStatementBytes,
  requestStatementBytes,
  encodeSignature,
  type StatementSigner,
  type SignatureClaim,
} from './signatures.ts';
export { isIsoTime } from './time.ts';
export * from './evidence-checks.ts';
