/**
 * `npm run bench` runs every benchmark; `npm run bench -- NAME [NAME...]` runs the named ones.
 * Each bench module lives at bench/NAME.ts (helpers: bench/NAME.lib.ts) and exports `run(): Promise<void>` which calls `report()`.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here)
  // bench/NAME.ts is a bench; helper modules have a second dot (x.lib.ts, x.worker.ts)
  .filter((f) => f.endsWith('.ts') && f.split('.').length === 2 && !['run.ts', 'harness.ts'].includes(f))
  .map((f) => f.slice(0, -3))
  .sort();
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : all;
for (const n of names) {
  if (!all.includes(n)) {
    console.error(`unknown bench "${n}"; known: ${all.join(', ')}`);
    process.exit(2);
  }
}
for (const n of names) {
  const mod = (await import(`./${n}.ts`)) as { run: () => Promise<void> };
  await mod.run();
}
process.exit(0);
