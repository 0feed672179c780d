// Runs a TypeScript topology (startTopology) for the Python and Go peers' own tests, which need a
// real server without a TypeScript test around them:
//
//   node --import tsx --conditions=@correio/source tools/interop/src/serveTopology.ts \
//     --data-dir DIR [--servers N] [--proxy] [--auth password|open] [--auth-keys FILE]
//
// Once every app is ready it prints one JSON line, {"broker", "proxy": {"publishers",
// "subscribers"} | null, "servers", "auth": {"mode", "keys"}}, and keeps the apps running until
// its stdin ends (the test closed it, or died), then stops them and exits. Failures go to stderr
// with a non-zero exit status.
import { parseArgs } from 'node:util';
import { killAll } from '@correio/testing';
import { startTopology } from './Topology.js';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    servers: { type: 'string', default: '1' },
    proxy: { type: 'boolean', default: false },
    auth: { type: 'string', default: 'password' },
    'auth-keys': { type: 'string' },
  },
});
const dataDir = values['data-dir'];
const servers = Number(values.servers);
const auth = values.auth;
if (!dataDir || !Number.isSafeInteger(servers) || servers < 0 || (auth !== 'password' && auth !== 'open')) {
  console.error('usage: serveTopology.ts --data-dir DIR [--servers N] [--proxy] [--auth password|open] [--auth-keys FILE]');
  process.exit(2);
}

let stopping: Promise<void> | undefined;
const stop = (status: number) => {
  stopping ??= killAll().finally(() => process.exit(status));
  return stopping;
};
process.stdin.on('end', () => void stop(0));
process.stdin.on('error', () => void stop(0));
process.stdin.resume();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(0));

try {
  const topology = await startTopology({ dataDir, servers, proxy: values.proxy, auth, ...(values['auth-keys'] ? { authKeys: values['auth-keys'] } : {}) });
  const { broker, proxy } = topology;
  process.stdout.write(`${JSON.stringify({ broker, proxy: proxy ?? null, servers: topology.servers, auth: topology.auth })}\n`);
} catch (error) {
  console.error(`serveTopology: ${(error as Error).stack ?? String(error)}`);
  await stop(1);
}
