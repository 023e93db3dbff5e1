import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One measured figure, printed beside the baseline measured in the same run. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number; unit: string };
}

/** Runs `fn` `rounds` times and returns the median of the returned values (e.g. ops/s). */
export async function median(rounds: number, fn: () => Promise<number> | number): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < rounds; i++) values.push(await fn());
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!;
}

/** Ops per second of a synchronous loop of `n` calls. */
export function opsPerSecond(n: number, fn: (i: number) => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return n / s;
}

export async function opsPerSecondAsync(n: number, fn: (i: number) => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return n / s;
}

function fmt(v: number): string {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(3);
}

/** Prints the table and writes bench/results/NAME.json. */
export function report(benchName: string, figures: Figure[]): void {
  console.log(`\n== bench ${benchName} ==`);
  for (const f of figures) {
    let line = `${f.name.padEnd(58)} ${fmt(f.value).padStart(12)} ${f.unit}`;
    if (f.baseline) {
      const ratio = f.baseline.unit === f.unit ? `  (${(f.value / f.baseline.value).toFixed(3)}x)` : '';
      line += `   | baseline ${f.baseline.name}: ${fmt(f.baseline.value)} ${f.baseline.unit}${ratio}`;
    }
    console.log(line);
  }
  const root = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(root, { recursive: true });
  const file = join(root, `${benchName}.json`);
  writeFileSync(file, JSON.stringify({ figures }, null, 2) + '\n');
  console.log(`wrote ${file}`);
}
