import type { FastifyInstance } from 'fastify';
import type { Strongroom } from '../../service/app.ts';
import { ProblemSchema } from './common.ts';
import { directoryRoutes } from './directory.ts';
import { requestRoutes } from './requests.ts';
import { sessionRoutes } from './sessions.ts';
import { auditRoutes } from './audit.ts';
import { vaultRoutes } from './vault.ts';
import { governanceRoutes } from './governance.ts';

export async function registerRoutes(server: FastifyInstance, app: Strongroom): Promise<void> {
  server.addSchema(ProblemSchema);
  await directoryRoutes(server, app);
  await requestRoutes(server, app);
  await sessionRoutes(server, app);
  await auditRoutes(server, app);
  await vaultRoutes(server, app.vault);
  await governanceRoutes(server, app);
}
