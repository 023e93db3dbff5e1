/**
 * Supervision of a dev node running as a child process: keep the tail of its output for error messages,
 * stop it politely then firmly, and never leave one behind when the parent exits.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { StrongroomError } from '../../domain/errors.ts';

export interface NodeProcess {
  readonly child: ChildProcess;
  /** Last few kilobytes of stdout and stderr, for diagnostics. */
  output(): string;
  /** Resolves when the process has exited (at once if it already has). */
  exited(): Promise<void>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

export function spawnNode(command: string, args: readonly string[], options: SpawnOptions = {}): NodeProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Synchronous by necessity: 'exit' handlers cannot wait. A killed child is reaped by the OS.
    process.once('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  running.add(child);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4096);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let done = false;
  const exit = new Promise<void>((resolve) => {
    const finish = () => {
      done = true;
      running.delete(child);
      resolve();
    };
    child.once('exit', finish);
    child.once('error', (e) => {
      keep(Buffer.from(String(e)));
      finish();
    });
  });
  return {
    child,
    output: () => tail,
    exited: () => exit,
    hasExited: () => done,
    async stop(graceMs = 5_000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Polls `probe` until it resolves, the process dies, or `timeoutMs` passes. */
export async function waitUntilReady(
  proc: NodeProcess,
  probe: () => Promise<unknown>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.hasExited())
      throw new StrongroomError('E_INTERNAL', `${what} exited during start-up:\n${proc.output()}`);
    try {
      await probe();
      return;
    } catch (e) {
      if (Date.now() > deadline) {
        await proc.stop();
        throw new StrongroomError(
          'E_INTERNAL',
          `${what} did not become ready within ${timeoutMs} ms:\n${proc.output()}`,
          { cause: e },
        );
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
