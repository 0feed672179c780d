#!/usr/bin/env node
// The correio-gateway process: parse flags, start, print the readiness line, drain on SIGTERM.
import { createLogger, onShutdown, runMain } from '@correio/observability';
import { shipLogsFromEnvironment } from '@correio/logs';
import { parseGatewayCommandLine } from './cli.js';
import { startGateway } from './startGateway.js';

runMain('correio-gateway', async () => {
  const { options, logLevel, drainMs } = parseGatewayCommandLine(process.argv);
  const logger = createLogger('gateway', { level: logLevel });
  shipLogsFromEnvironment('gateway', options.id);
  const running = await startGateway({ ...options, logger });
  onShutdown(() => running.close(), { drainMs, logger });
  logger.info({ url: running.url, broker: options.broker, proxy: options.proxy }, 'gateway ready');
  process.stdout.write(`${running.readyLine}\n`);
});
