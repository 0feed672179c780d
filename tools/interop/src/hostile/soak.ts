// npm run soak:hostile -- --seed N --minutes M: the hostile-corpus test (tests/hostile-topology.test.ts)
// for as long as asked, with any seed. Starts a topology on loopback ports in a scratch directory,
// sends, checks the aftermath, prints a summary, and exits 0 when everything held, 1 otherwise
// (with the seed, the last shots and the tail of every process's log).
import { killAll, scratchDir } from '@correio/testing';
import { parseArgs } from 'node:util';
import { startTopology, type Topology } from '../Topology.js';
import { checkAftermath } from './aftermath.js';
import { runCampaign, type CampaignReport } from './campaign.js';

const HELP = `Usage: npm run soak:hostile -- [options]

Sends schema-valid hostile envelopes (extreme clocks, sequence numbers, lengths, nesting; every
message type, to every service and topic) at a local topology — broker, proxy, ref and chat
servers as child processes on 127.0.0.1 — then checks that every process is alive, every request
was answered, an honest client is served, the servers converge and restart from verified stores.

Options:
  --seed <n>          fast-check seed (default: random, printed)
  --minutes <m>       how long to send (default 5; fractions allowed)
  --servers <n>       chat servers (default 3)
  --concurrency <n>   requests in flight at once (default 8)
  --keep              keep the data directories (printed) instead of deleting them
  -h, --help          this text
`;

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    minutes: { type: 'string', default: '5' },
    servers: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const number = (name: string, text: string, min: number): number => {
  const parsed = Number(text);
  if (!Number.isFinite(parsed) || parsed < min) {
    process.stderr.write(`soak:hostile: --${name} must be a number of at least ${min}, got ${JSON.stringify(text)}\n${HELP}`);
    process.exit(2);
  }
  return parsed;
};
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Math.trunc(number('seed', values.seed, -(2 ** 31)));
const durationMs = Math.round(number('minutes', values.minutes, 0.05) * 60_000);
const servers = Math.trunc(number('servers', values.servers, 1));
const concurrency = Math.trunc(number('concurrency', values.concurrency, 1));
const log = (line: string) => process.stdout.write(`[soak] ${line}\n`);

const scratch = scratchDir('correio-soak-hostile-');
let topology: Topology | undefined;
let report: CampaignReport | undefined;
let status = 1;
try {
  log(`seed ${seed}, ${durationMs / 60_000} min, ${servers} server(s), data in ${scratch.dir}`);
  topology = await startTopology({ dataDir: scratch.dir, servers, auth: 'open' }); // users named in bodies, no accounts
  log('topology ready; sending');
  report = await runCampaign(topology, { seed, durationMs, concurrency, log });
  log(`sent ${report.requests} requests and ${report.publications} publications (${report.types.size} message types, ${report.services.size} services, ${report.topics.size} topics)`);
  log(`outcomes ${JSON.stringify(report.outcomes)}; malformed replies ${report.malformedReplies}`);
  if (report.unanswered.length > 0) throw new Error(`${report.unanswered.length} request(s) got no reply:\n${report.unanswered.slice(0, 20).join('\n')}`);
  if (report.malformedReplies > 0) throw new Error(`${report.malformedReplies} replies were not valid envelopes`);
  const aftermath = await checkAftermath(topology, { convergeMs: 120_000, startupMs: 120_000 });
  log(`every process alive; honest client served; converged in ${Math.round(aftermath.convergedMs)} ms; operations held: ${[...aftermath.digests].map(([id, digest]) => `${id} ${digest.ops}`).join(', ')}; stores verified on restart`);
  status = 0;
} catch (error) {
  process.stderr.write(`soak:hostile FAILED (seed ${seed}): ${(error as Error).message}\n`);
  if (report) process.stderr.write(`the last shots:\n${report.recent.join('\n')}\n`);
  for (const child of topology?.children.values() ?? []) process.stderr.write(`--- ${child.name} (${child.alive ? 'alive' : 'exited'}) stderr tail:\n${child.stderr.slice(-3_000)}\n`);
} finally {
  await killAll();
  if (values.keep) log(`data kept in ${scratch.dir}`);
  else scratch.remove();
}
process.exit(status);
