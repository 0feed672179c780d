// The skeleton of a Correio program: flags with CORREIO_* fallbacks, a quiet logger, metrics,
// /health and /metrics on a side port, and a graceful shutdown.
// Run from the repository root: npx tsx --conditions=@correio/source libs/observability/examples/program.ts --http-port 0
import { Command, addCommonOptions, createLogger, createMetrics, envOption, onShutdown, parseDurationMs, shutdown, startHttpSidecar, type CommonOptions } from '@correio/observability';

const command = addCommonOptions(
  new Command('example').addOption(envOption('--interval <time>', 'how often to tick', 'CORREIO_EXAMPLE_INTERVAL').argParser(parseDurationMs).default(50)),
);
const options = command.parse(process.argv).opts<CommonOptions & { interval: number }>();

const log = createLogger('example', { level: options.logLevel }); // JSON lines on stderr; warn unless asked
const metrics = createMetrics({ processMetrics: false });
const ticks = metrics.counter('example_ticks_total', { help: 'Ticks so far.' });
let ready = false;
const timer = setInterval(() => ticks.inc(), options.interval);

const sidecar = await startHttpSidecar({
  port: options.httpPort ?? 0,
  host: options.httpHost,
  registry: metrics,
  health: () => ({ ready, status: ready ? 'serving' : 'starting', interval: options.interval }),
});
const health = async () => {
  const response = await fetch(`${sidecar.url}/health`);
  return `${response.status} ${await response.text()}`;
};
console.log('before ready:', await health());
ready = true;
console.log('example ready'); // the one readiness line on stdout; logs go to stderr
console.log('after ready: ', await health());
await new Promise((resolve) => setTimeout(resolve, options.interval * 3 + 10));
const exposition = await (await fetch(`${sidecar.url}/metrics`)).text();
console.log('metrics:', exposition.split('\n').filter((line) => line.startsWith('# TYPE')).join(' | '));

// SIGTERM or SIGINT would start this; shutdown() does it by hand. Handlers run newest first.
onShutdown(() => sidecar.close());
onShutdown(() => clearInterval(timer), {
  logger: log,
  exit: (code) => console.log(`drained; exit status ${code}`), // process.exit by default
});
await shutdown('example done');
