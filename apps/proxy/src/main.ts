#!/usr/bin/env node
// The correio-proxy process: parse flags, start, print the readiness line, close on SIGTERM.
import { announceReady, createLogger, onShutdown, runMain } from '@correio/observability';
import { shipLogsFromEnvironment } from '@correio/logs';
import { parseProxyCommandLine } from './cli.js';
import { startProxy } from './startProxy.js';

runMain('correio-proxy', async () => {
  const { options, logLevel } = parseProxyCommandLine(process.argv);
  const logger = createLogger('proxy', { level: logLevel });
  shipLogsFromEnvironment('proxy', undefined);
  const running = await startProxy({ ...options, logger });
  onShutdown(() => running.close(), { drainMs: 3_000, logger });
  logger.info({ publishers: running.proxy.frontend, subscribers: running.proxy.backend, mode: running.proxy.mode }, 'proxy ready');
  announceReady(running.readyLine);
});
