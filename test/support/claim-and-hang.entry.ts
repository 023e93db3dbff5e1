/**
 * Crash simulation for the job tests: opens the database given as JSON in argv[2], claims one job of kind
 * argv[3] for argv[4] ms as worker argv[5], prints the claimed job as one JSON line, then hangs until killed.
 */
import { openDatabase, type DatabaseConfig } from '../../src/store/database.ts';
import { jobsRepository } from '../../src/store/repositories/jobs-repository.ts';

const [config, kind, leaseMs, workerId] = process.argv.slice(2) as [string, string, string, string];
const database = await openDatabase(JSON.parse(config) as DatabaseConfig, { migrate: false });
const jobs = await jobsRepository.claim(database.db, workerId, [kind], Number(leaseMs), 1);
process.stdout.write(JSON.stringify(jobs[0] ?? null) + '\n');
setInterval(() => {}, 1 << 30);
