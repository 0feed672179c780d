// npm run soak:churn -- --minutes M --clients N: the churn soak for as long as you like (see --help).
import { parseArgs } from 'node:util';
import { killAll, scratchDir } from '@correio/testing';
import { RSS_BOUND, runChurn } from './runChurn.js';
import { summary } from './summary.js';

const HELP = `Usage: npm run soak:churn -- [options]

Starts a broker (tcp and ipc), a proxy, a reference server and chat servers, all serving CURVE only,
as child processes, and churns them: churn peer processes open many zeromq sockets at once (MDP
clients and workers, publishers, subscribers, CURVE sockets with a wrong server key, plaintext
sockets), reuse each other's routing ids, and are SIGKILLed mid-traffic and replaced. At the end
every program must still run, serve an honest client (login, publish, history on every server,
a publication heard through the proxy, every server alive in the ref's list), come back within
its RSS bound (max(${RSS_BOUND.ratio} x its post-warm-up baseline, ${RSS_BOUND.floorMiB} MiB) above it) and stop cleanly on SIGTERM.
Exits 0 when all of that holds, 1 otherwise.

Options:
  --minutes <m>       length of the measured churn, after the warm-up (default 5; fractions allowed)
  --warm-up <s>       seconds of warm-up churn before the RSS baseline (default 20)
  --clients <n>       churn sockets alive at once, over all peers (default 400)
  --peers <n>         churn peer processes alive at once (default 4)
  --servers <n>       chat servers (default 2)
  --proxy-mode <m>    native or metered (default native)
  --id-pool <n>       routing ids shared by every peer; half of the sockets reuse one (default 20)
  --seed <n>          seed of the churn's random choices (default: the time)
  --data-dir <dir>    keep the stores here (default: a scratch directory, removed afterwards)
  --json              print the whole report as JSON at the end
  -h, --help          this text
`;

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!(number > 0) || !Number.isFinite(number)) throw new Error(`--${name}: expected a positive number, got ${JSON.stringify(value)}`);
  return number;
}

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    'warm-up': { type: 'string' },
    clients: { type: 'string' },
    peers: { type: 'string' },
    servers: { type: 'string' },
    'proxy-mode': { type: 'string' },
    seed: { type: 'string' },
    'id-pool': { type: 'string' },
    'data-dir': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const proxyMode = values['proxy-mode'] ?? 'native';
if (proxyMode !== 'native' && proxyMode !== 'metered') throw new Error(`--proxy-mode: native or metered, got ${JSON.stringify(proxyMode)}`);
const scratch = values['data-dir'] === undefined ? scratchDir('correio-soak-') : undefined;
const stamp = () => new Date().toISOString().slice(11, 19);
try {
  const report = await runChurn({
    dataDir: values['data-dir'] ?? scratch!.dir,
    durationMs: positive('minutes', values.minutes, 5) * 60_000,
    warmUpMs: positive('warm-up', values['warm-up'], 20) * 1_000,
    clients: Math.round(positive('clients', values.clients, 400)),
    peers: Math.round(positive('peers', values.peers, 4)),
    servers: Math.round(positive('servers', values.servers, 2)),
    proxyMode,
    seed: Math.round(positive('seed', values.seed, Date.now())),
    idPool: Math.round(positive('id-pool', values['id-pool'], 20)),
    log: (line) => process.stdout.write(`[${stamp()}] ${line}\n`),
  });
  process.stdout.write(`${summary(report)}\n`);
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = report.failures.length === 0 ? 0 : 1;
} finally {
  await killAll();
  scratch?.remove();
}
