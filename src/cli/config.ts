import { join, resolve } from 'node:path';
import type { StrongroomConfig } from '../service/app.ts';

export interface ServerSideOptions {
  data?: string;
  databaseUrl?: string;
}

/** Where the server keeps its data: SQLite in the data directory unless a PostgreSQL URL is given. */
export function serverConfig(o: ServerSideOptions): StrongroomConfig {
  const dataDir = resolve(o.data ?? process.env.STRONGROOM_DATA ?? './data');
  const url = o.databaseUrl ?? process.env.STRONGROOM_DATABASE_URL;
  return {
    dataDir,
    database: url
      ? { dialect: 'postgres', url }
      : { dialect: 'sqlite', path: join(dataDir, 'strongroom.db') },
  };
}

export const DEFAULT_SERVER = 'http://localhost:8080';
