#!/usr/bin/env node
// The correio-ref process: parse flags, start, print the readiness line, shut down cleanly on SIGTERM.
import { createLogger, onShutdown, runMain } from '@correio/observability';
import { shipLogsFromEnvironment } from '@correio/logs';
import { parseRefCommandLine } from './cli.js';
import { startRef } from './startRef.js';

runMain('correio-ref', async () => {
  const { options, logLevel, shutdownGraceMs } = parseRefCommandLine(process.argv);
  const logger = createLogger('ref', { level: logLevel });
  shipLogsFromEnvironment('ref', options.id);
  const running = await startRef({ ...options, logger });
  onShutdown(() => running.close(), { drainMs: shutdownGraceMs, logger });
  process.stdout.write(`${running.readyLine}\n`);
});
