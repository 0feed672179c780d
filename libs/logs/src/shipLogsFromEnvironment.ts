import { hostname } from 'node:os';
import { onShutdown } from '@correio/observability';
import { LogShipper } from './LogShipper.js';

/** The broker through which programs ship their log lines to the central log service. */
export const LOG_SERVICE_ENV = 'CORREIO_LOG_SERVICE';

/**
 * For a program's main: with CORREIO_LOG_SERVICE naming the broker, ships every line the program's
 * loggers write to the `logs` service from now on, as `instance` (else `<program>-<host>-<pid>`),
 * and flushes the backlog for up to half a second at shutdown. Call it before the program registers
 * its own shutdown (`onShutdown` runs handlers in reverse), so its closing lines are shipped too.
 * A broker given with a wildcard port (`tcp://127.0.0.1:*`) is named later with `connect`.
 * Undefined when the variable is not set.
 */
export function shipLogsFromEnvironment(program: string, instance: string | undefined, env: NodeJS.ProcessEnv = process.env): LogShipper | undefined {
  const broker = env[LOG_SERVICE_ENV];
  if (broker === undefined || broker === '') return undefined;
  const shipper = new LogShipper({ program, instance: instance ?? `${program}-${hostname()}-${process.pid}`.slice(0, 128) }).start();
  if (!broker.includes('*')) shipper.connect(broker);
  onShutdown(() => shipper.close(500));
  return shipper;
}
