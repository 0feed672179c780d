#!/usr/bin/env node
// The correio-server process: parse flags, start, print the readiness line, drain on SIGTERM, reload the keys on SIGHUP.
// A store that fails verification (or cannot be opened) ends the process with status 1 and one
// clear line on stderr, before anything is served.
import { createLogger, onShutdown, runMain } from '@correio/observability';
import { shipLogsFromEnvironment } from '@correio/logs';
import { parseServerCommandLine } from './cli.js';
import { startServer } from './startServer.js';

runMain('correio-server', async () => {
  const { options, logLevel, shutdownGraceMs } = parseServerCommandLine(process.argv);
  const logger = createLogger('server', { level: logLevel });
  shipLogsFromEnvironment('server', options.id);
  const running = await startServer({ ...options, logger });
  onShutdown(() => running.close(), { drainMs: shutdownGraceMs + 3_000, logger });
  // SIGHUP reloads the shared signing keys (after a rotation); they are also reloaded when the file changes.
  process.on('SIGHUP', () => void running.keys.reload());
  process.stdout.write(`${running.readyLine}\n`);
});
