import { join, resolve } from 'node:path';
import type { StrongroomConfig } from '../service/app.ts';
import { loadChainsConfig } from '../service/chains-config.ts';

export interface ServerSideOptions {
  data?: string;
  databaseUrl?: string;
}

/** Where the server keeps its data: SQLite in the data directory unless a PostgreSQL URL is given. */
export function serverConfig(o: ServerSideOptions): StrongroomConfig {
  const dataDir = resolve(o.data ?? process.env.STRONGROOM_DATA ?? './data');
  const url = o.databaseUrl ?? process.env.STRONGROOM_DATABASE_URL;
  // <data>/chains.json (written by the dev chains in the demo): which nodes to execute withdrawals on.
  const chains = loadChainsConfig(join(dataDir, 'chains.json'));
  return {
    dataDir,
    ...(chains ? { chains } : {}),
    database: url
      ? { dialect: 'postgres', url }
      : { dialect: 'sqlite', path: join(dataDir, 'strongroom.db') },
  };
}

export const DEFAULT_SERVER = 'http://localhost:8080';
