export { openDatabase, type Database, type DatabaseConfig, type Dialect } from './database.ts';
export type { Queryable } from './queryable.ts';
export { isUniqueViolation } from './queryable.ts';
export { directoryRepository } from './repositories/directory-repository.ts';
export { authRepository } from './repositories/auth-repository.ts';
export { requestsRepository } from './repositories/requests-repository.ts';
export { auditRepository } from './repositories/audit-repository.ts';
export { systemRepository } from './repositories/system-repository.ts';
export { outboxRepository } from './repositories/outbox-repository.ts';
