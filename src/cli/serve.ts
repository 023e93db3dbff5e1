import type { Command } from 'commander';
import { serverConfig } from './config.ts';
import { action, print } from './output.ts';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the API server (embedded default: SQLite in ./data, 127.0.0.1:8080)')
    .option('--data <dir>', 'data directory', './data')
    .option('--database-url <url>', 'PostgreSQL URL instead of the embedded SQLite (env STRONGROOM_DATABASE_URL)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', '8080')
    .action(
      action(async (o: { data: string; databaseUrl?: string; host: string; port: string }) => {
        // Loaded on use, so `strongroom --help` and light commands start fast.
        const { createStrongroom } = await import('../service/app.ts');
        const { buildServer } = await import('../api/server.ts');
        const app = await createStrongroom({ ...serverConfig(o), maintenanceIntervalS: 5 });
        const server = await buildServer(app, { logger: process.env.STRONGROOM_LOG === '1' });
        await server.listen({ host: o.host, port: Number(o.port) });
        const port = (server.server.address() as { port: number }).port;
        // WebAuthn and the signed target URI want a host name, not an IP, for the loopback address.
        print(`strongroom listening on http://${o.host === '127.0.0.1' ? 'localhost' : o.host}:${port} (docs: /docs)`);
        const stop = async () => {
          await server.close();
          await app.close();
          process.exit(0);
        };
        process.once('SIGINT', () => void stop());
        process.once('SIGTERM', () => void stop());
      }),
    );
}
