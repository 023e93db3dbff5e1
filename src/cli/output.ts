import { isStrongroomError } from '../domain/errors.ts';

export function print(value: unknown): void {
  process.stdout.write(typeof value === 'string' ? value + '\n' : JSON.stringify(value, null, 2) + '\n');
}

/** Errors print their stable code, message and hints; the exit code is 1 (2 for usage errors). */
export function fail(e: unknown): never {
  if (isStrongroomError(e)) {
    process.stderr.write(`error ${e.code}: ${e.message}\n`);
    for (const h of e.hints) process.stderr.write(`  hint: ${h}\n`);
  } else {
    process.stderr.write(`error: ${(e as Error)?.message ?? String(e)}\n`);
  }
  process.exit(1);
}

/** Runs an async action, turning errors into a clean exit. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      fail(e);
    }
  };
}
