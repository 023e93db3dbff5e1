/**
 * A JSON-RPC proxy in front of a real node that misbehaves on purpose: calls that hang past the client's
 * timeout, answers that are garbage, and a call that reaches the node but whose answer is lost. Counts what
 * it did, so a test can show the faults really happened.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultPlan {
  /** Every Nth call (1-based counter) never answers. */
  hangEvery?: number;
  /** Every Nth call (shifted by garbageOffset) answers garbage. */
  garbageEvery?: number;
  garbageOffset?: number;
  /** The first call of this method is forwarded, then its answer is dropped (connection destroyed). */
  loseAnswerOf?: string;
}

export interface FaultyProxy {
  url: string;
  set(plan: FaultPlan): void;
  stats(): { calls: number; hung: number; garbage: number; lost: number };
  close(): Promise<void>;
}

const GARBAGE = ['<html>502 Bad Gateway</html>', '{"jsonrpc":"2.0","id":1,"result":{"unexpected":true}}', '{"jsonrpc":"2.0"', 'null'];

export async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  let plan: FaultPlan = {};
  const stats = { calls: 0, hung: 0, garbage: 0, lost: 0 };
  let lostDone = false;
  const hanging = new Set<ServerResponse>();
  const t = new URL(target);

  function forward(body: Buffer, done: (status: number, answer: Buffer) => void, fail: () => void): void {
    const req = request(
      { host: t.hostname, port: t.port, path: t.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(res.statusCode ?? 502, Buffer.concat(chunks)));
      },
    );
    req.on('error', fail);
    req.end(body);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const n = ++stats.calls;
      let method = '';
      try {
        method = String((JSON.parse(body.toString()) as { method?: string }).method ?? '');
      } catch {
        /* batch or garbage from the client: forward as is */
      }
      if (plan.hangEvery && n % plan.hangEvery === 0) {
        stats.hung++;
        hanging.add(res);
        return;
      }
      if (plan.garbageEvery && n % plan.garbageEvery === (plan.garbageOffset ?? 0) % plan.garbageEvery) {
        stats.garbage++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(GARBAGE[stats.garbage % GARBAGE.length]);
        return;
      }
      const lose = !lostDone && plan.loseAnswerOf === method;
      forward(
        body,
        (status, answer) => {
          if (lose) {
            lostDone = true;
            stats.lost++;
            res.socket?.destroy();
            return;
          }
          res.writeHead(status, { 'content-type': 'application/json' }).end(answer);
        },
        () => res.socket?.destroy(),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    set(p) {
      plan = p;
    },
    stats: () => ({ ...stats }),
    async close() {
      for (const r of hanging) r.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
