/**
 * `npm run bench -- pipeline`: approved withdrawals taken to a signed transaction with a durable audit entry,
 * per second, on SQLite and on PostgreSQL (issue 5, "Signing speed"), each beside two baselines measured in
 * the same run:
 *
 * - raw libsecp256k1 ECDSA signing of a 32-byte digest (the native addon the vault signs with), one thread;
 * - bare ethers `Wallet` EIP-1559 signing (`signTransaction({ type: 2, ... })`), one thread, no controls.
 *
 * Also printed: the bound the required cryptography alone sets on this machine (three Ed25519
 * verifications and one libsecp256k1 signature per withdrawal, on every core), and per round the CPU time
 * per withdrawal (all threads, and the event loop alone), which is steadier than throughput on a shared
 * machine.
 *
 * The measured step is the executor's `sign` step for N requests in `signing` (pipeline-setup.lib.ts): load
 * the stored payload and evidence; the vault checks the governance head, the initiator's RFC 9421 signature,
 * the policy in force (re-evaluated), both approval signatures and the workflow, unwraps the wallet
 * cryptogram, derives the key, signs, audits `vault.sign`; then the fenced signing → signed transition commits
 * with its audit entry and outbox event. Driven with `IN_FLIGHT` calls at once. Between rounds the same
 * requests are put back to `signing` by SQL and signed again (signing is deterministic), so every round
 * verifies everything anew.
 *
 * Env: STRONGROOM_BENCH_PIPELINE_N (default 20000), STRONGROOM_BENCH_PIPELINE_ROUNDS (3),
 * STRONGROOM_BENCH_PIPELINE_DIALECTS (sqlite,postgres), STRONGROOM_BENCH_PIPELINE_IN_FLIGHT (1024),
 * STRONGROOM_BENCH_PIPELINE_PROFILE (a path prefix: writes a .cpuprofile of the main thread per measured round,
 * the setup excluded), STRONGROOM_BENCH_PIPELINE_THREADS=1 (prints CPU per withdrawal of every thread).
 */
import { Wallet } from 'ethers';
import { generateKeyPairSync, randomBytes, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { Dialect } from '../src/store/database.ts';
import { ecdsaSignDigest } from '../src/vault/signers/libsecp256k1.ts';
import { opsPerSecond, report, type Figure } from './harness.ts';
import { pool, setupPipeline, DESTINATION, type PipelineSetup } from './pipeline-setup.lib.ts';

const N = Number(process.env.STRONGROOM_BENCH_PIPELINE_N ?? 20_000);
const ROUNDS = Number(process.env.STRONGROOM_BENCH_PIPELINE_ROUNDS ?? 3);
const IN_FLIGHT = Number(process.env.STRONGROOM_BENCH_PIPELINE_IN_FLIGHT ?? 1024);
const DIALECTS = (process.env.STRONGROOM_BENCH_PIPELINE_DIALECTS ?? 'sqlite,postgres').split(
  ',',
) as Dialect[];
const PROFILE = process.env.STRONGROOM_BENCH_PIPELINE_PROFILE;
const TARGET = 4000;
const cpus = availableParallelism();

const mid = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const log = (s: string) => console.log(s);

function rawSecp256k1(n = 20_000): number {
  const key = randomBytes(32);
  const digests = Array.from({ length: 256 }, () => randomBytes(32));
  return opsPerSecond(n, (i) => void ecdsaSignDigest(digests[i & 255]!, key));
}

/** Ed25519 verifications/s on one thread, as the vault verifies (node:crypto, the approvers' key type here). */
function ed25519Verify(n = 5_000): number {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const data = randomBytes(200);
  const sig = cryptoSign(null, data, privateKey);
  return opsPerSecond(n, () => void cryptoVerify(null, data, publicKey, sig));
}

async function bareEthers(n = 3_000): Promise<number> {
  const wallet = new Wallet('0x' + randomBytes(32).toString('hex'));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await wallet.signTransaction({
      type: 2,
      chainId: 31337n,
      nonce: i,
      to: DESTINATION,
      value: 1_000_000_000_000_000n,
      data: '0x',
      gasLimit: 21_000n,
      maxFeePerGas: 30_000_000_000n,
      maxPriorityFeePerGas: 1_000_000_000n,
    });
  }
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** CPU time of the main thread (the event loop), µs, from /proc on Linux; -1 elsewhere. */
function mainThreadCpuUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
  } catch {
    return -1;
  }
}

/** CPU time of every thread, µs, by thread name (Linux; empty elsewhere). */
function threadsCpuUs(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const key = tid === String(process.pid) ? 'main' : `${name}:${tid}`;
      out.set(key, (out.get(key) ?? 0) + ((Number(f[11]) + Number(f[12])) * 1e6) / 100);
    }
  } catch {
    // not Linux
  }
  return out;
}

/** CPU per withdrawal in the last round, µs: every thread of the process, and the main thread alone. */
let lastCpu = { all: 0, main: 0 };

/** Signs the first `n` requests once and puts them back to signing: threads started, code compiled. */
async function warmUp(s: PipelineSetup, n: number): Promise<void> {
  await pool(Math.min(n, s.work.length), IN_FLIGHT, (i) =>
    s.executor.steps.sign(s.work[i]!.ctx, s.tenant, s.work[i]!.id),
  );
  await s.reset();
}

/** One round: the sign step over every request, IN_FLIGHT at once; returns requests/s. */
async function signAll(s: PipelineSetup): Promise<number> {
  const failures: unknown[] = [];
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuUs();
  const threads0 = process.env.STRONGROOM_BENCH_PIPELINE_THREADS ? threadsCpuUs() : undefined;
  const t0 = process.hrtime.bigint();
  await pool(s.work.length, IN_FLIGHT, async (i) => {
    const w = s.work[i]!;
    await s.executor.steps.sign(w.ctx, s.tenant, w.id).catch((e: unknown) => void failures.push(e));
  });
  const perS = s.work.length / (Number(process.hrtime.bigint() - t0) / 1e9);
  const cpu = process.cpuUsage(cpu0);
  lastCpu = {
    all: (cpu.user + cpu.system) / s.work.length,
    main: (mainThreadCpuUs() - main0) / s.work.length,
  };
  if (threads0) {
    const per = [...threadsCpuUs()]
      .map(([k, v]) => [k, Math.round((v - (threads0.get(k) ?? 0)) / s.work.length)] as const)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`);
    console.log(`    CPU µs per withdrawal by thread: ${per.join(', ')}`);
  }
  if (failures.length)
    throw new Error(
      `${failures.length} sign steps failed; first: ${String((failures[0] as Error)?.stack ?? failures[0])}`,
    );
  const c = await s.census();
  if (c.signed !== s.work.length)
    throw new Error(`expected ${s.work.length} signed requests, found ${JSON.stringify(c)}`);
  return perS;
}

export async function run(): Promise<void> {
  const figures: Figure[] = [];
  for (const dialect of DIALECTS) {
    log(`pipeline on ${dialect}: setting up ${N} approved withdrawals…`);
    const s = await setupPipeline(dialect, N, log);
    log(
      `  submit + evaluate + 2 approvals: ${s.timings.approveS.toFixed(1)} s; dispatch + prepare (approved → signing): ${s.timings.prepareS.toFixed(1)} s`,
    );
    try {
      const signed: number[] = [];
      const secp: number[] = [];
      const eth: number[] = [];
      const ed: number[] = [];
      let vaultSign = 0;
      await warmUp(s, 2000);
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate the figure and its baselines, so a change in machine load hits all alike.
        secp.push(rawSecp256k1());
        eth.push(await bareEthers());
        ed.push(ed25519Verify());
        if (round > 0) await s.reset();
        const before = (await s.census()).vaultSign;
        const session = PROFILE ? new Session() : undefined;
        if (session) {
          session.connect();
          await session.post('Profiler.enable');
          await session.post('Profiler.start');
        }
        signed.push(await signAll(s));
        if (session) {
          const { profile } = await session.post('Profiler.stop');
          writeFileSync(`${PROFILE}-${dialect}-${round + 1}.cpuprofile`, JSON.stringify(profile));
          session.disconnect();
        }
        vaultSign += (await s.census()).vaultSign - before;
        log(
          `  round ${round + 1}: ${Math.round(signed.at(-1)!)} withdrawals/s (CPU per withdrawal: ${Math.round(lastCpu.all)} µs all threads, ${Math.round(lastCpu.main)} µs main thread)` +
            ` | libsecp256k1 ${Math.round(secp.at(-1)!)}/s | ethers Wallet ${Math.round(eth.at(-1)!)}/s | Ed25519 verify ${Math.round(ed.at(-1)!)}/s | load ${loadavg()[0]!.toFixed(1)}`,
        );
      }
      if (vaultSign !== ROUNDS * N)
        throw new Error(`expected ${ROUNDS * N} vault.sign audit entries, found ${vaultSign}`);
      const fig = mid(signed);
      const secpMid = mid(secp);
      const ethMid = mid(eth);
      figures.push(
        {
          name: `${dialect}: approved → signed withdrawals/s, ${IN_FLIGHT} in flight (N=${N}, median of ${ROUNDS})${dialect === 'sqlite' ? ` (target >= ${TARGET.toLocaleString('en-US')}/s)` : ''}`,
          value: fig,
          unit: 'ops/s',
          baseline: {
            name: 'bare ethers Wallet EIP-1559 signTransaction, one thread',
            value: ethMid,
            unit: 'ops/s',
          },
        },
        {
          name: `${dialect}: same figure against raw libsecp256k1`,
          value: fig,
          unit: 'ops/s',
          baseline: {
            name: 'raw libsecp256k1 ecdsaSign (32-byte digest), one thread',
            value: secpMid,
            unit: 'ops/s',
          },
        },
        {
          // What the cryptography every withdrawal needs allows at most on this machine's cores, whatever else.
          name: `${dialect}: bound from the cryptography alone (3 Ed25519 verifications + 1 ECDSA signature, ${cpus} cores)`,
          value: cpus / (3 / mid(ed) + 1 / secpMid),
          unit: 'ops/s',
        },
        {
          name: `${dialect}: setup, submit + evaluate + 2 approvals of N requests`,
          value: s.timings.approveS,
          unit: 's',
        },
        {
          name: `${dialect}: preparation, dispatch + prepare step (approved → signing) of N`,
          value: s.timings.prepareS,
          unit: 's',
        },
      );
    } finally {
      await s.close();
    }
  }
  report('pipeline', figures);
}
