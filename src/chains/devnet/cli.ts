/**
 * `npx tsx src/chains/devnet/cli.ts`: starts the local dev chains, prints where they are, and stops them on
 * Ctrl-C or SIGTERM. The same `startDevnets()` is what `npm start` will call.
 */
import { startDevnets } from './index.ts';

const devnets = await startDevnets();
console.log(devnets.describe());
console.log('dev chains running; Ctrl-C to stop');
const stop = async () => {
  await devnets.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
