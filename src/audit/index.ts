/** The audit log's public surface. Pure apart from file I/O in export.ts: time is an input. */
export * from './audit-entry.ts';
export * from './checkpoint.ts';
export * from './verify-chain.ts';
export * from './export.ts';
