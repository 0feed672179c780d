#!/usr/bin/env node
// The correio-broker process: parse flags, start, print the readiness line, drain on SIGTERM.
import { announceReady, createLogger, onShutdown, runMain } from '@correio/observability';
import { shipLogsFromEnvironment } from '@correio/logs';
import { parseBrokerCommandLine } from './cli.js';
import { startBroker } from './startBroker.js';

runMain('correio-broker', async () => {
  const { options, logLevel, shutdownGraceMs } = parseBrokerCommandLine(process.argv);
  const logger = createLogger('broker', { level: logLevel });
  const shipper = shipLogsFromEnvironment('broker', options.id);
  const running = await startBroker({ ...options, logger });
  // A broker on a wildcard port ships to itself once it knows the port.
  shipper?.connect(running.endpoints[0]!);
  onShutdown(() => running.close(shutdownGraceMs), { drainMs: shutdownGraceMs + 3_000, logger });
  logger.info({ endpoints: running.endpoints, id: running.broker.id }, 'broker ready');
  announceReady(running.readyLine);
});
