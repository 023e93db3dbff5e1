/**
 * A tiny local JSON-RPC server that misbehaves on request, for the node clients' fault tests: it can answer
 * properly, with a JSON-RPC error, with garbage, with an HTTP error, or not at all (hang). Every request is
 * recorded (method, params, Authorization header) so tests can count what was sent.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export type FakeAnswer =
  | { result: unknown }
  | { error: { code: number; message: string } }
  | { raw: string; status?: number }
  | 'hang';

export interface FakeCall {
  readonly method: string;
  readonly params: unknown[];
  readonly authorization: string | undefined;
}

export interface FakeJsonRpc {
  readonly url: string;
  readonly calls: FakeCall[];
  callsOf(method: string): FakeCall[];
  close(): Promise<void>;
}

export async function startFakeJsonRpc(
  handler: (method: string, params: unknown[], call: number) => FakeAnswer,
  options: { errorStatus?: number } = {},
): Promise<FakeJsonRpc> {
  const calls: FakeCall[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      let msg: { id?: unknown; method?: string; params?: unknown[] };
      try {
        msg = JSON.parse(body);
      } catch {
        res.writeHead(400).end('bad request');
        return;
      }
      const method = String(msg.method);
      const params = msg.params ?? [];
      calls.push({ method, params, authorization: req.headers.authorization });
      const answer = handler(method, params, calls.filter((c) => c.method === method).length);
      if (answer === 'hang') {
        hanging.add(res);
        return;
      }
      if ('raw' in answer) {
        res.writeHead(answer.status ?? 200, { 'content-type': 'text/html' }).end(answer.raw);
        return;
      }
      const payload =
        'result' in answer
          ? { jsonrpc: '2.0', id: msg.id, result: answer.result }
          : { jsonrpc: '2.0', id: msg.id, error: answer.error };
      // Bitcoin Core answers RPC errors with HTTP 500 and a JSON body (the default); Ethereum nodes with 200.
      res
        .writeHead('error' in answer ? (options.errorStatus ?? 500) : 200, {
          'content-type': 'application/json',
        })
        .end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    calls,
    callsOf: (method) => calls.filter((c) => c.method === method),
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hanging) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
