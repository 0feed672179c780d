import { hostname } from 'node:os';
import { isConfigProgram } from '@correio/config';
import { LogShipper } from '@correio/logs';
import { onReady, onShutdown, type Command } from '@correio/observability';
import type { SectionValues } from '../config/loadConfig.js';
import { optionValue } from '../config/optionValue.js';

/** The broker through which programs ship their log lines to the central log service. */
export const LOG_SERVICE_ENV = 'CORREIO_LOG_SERVICE';

/**
 * With CORREIO_LOG_SERVICE set, ships every line the program's loggers write to the `logs`
 * service (protocol revision 1.5) as well as to stderr, from before the program starts until it
 * stops (a service's backlog is flushed on shutdown, for up to half a second). The instance is the program's `--id`,
 * else `<program>-<host>-<pid>`. A broker given a wildcard endpoint ships once its readiness line
 * names the port. Never fails the program: without the service, lines wait in a bounded backlog.
 */
export function shipProgramLogs(program: string, command: Command, args: readonly string[], fileValues: SectionValues | undefined, env: NodeJS.ProcessEnv = process.env): LogShipper | undefined {
  const broker = env[LOG_SERVICE_ENV];
  if (broker === undefined || broker === '') return undefined;
  const instance = optionValue(command, 'id', args, env, fileValues) ?? `${program}-${hostname()}-${process.pid}`.slice(0, 128);
  const shipper = new LogShipper({ program, instance }).start();
  if (!broker.includes('*')) shipper.connect(broker);
  else if (program === 'broker') {
    const stop = onReady((line) => {
      stop();
      const own = /^broker ready (\S+)/.exec(line)?.[1];
      if (own !== undefined && !own.includes('*')) shipper.connect(own.split(',')[0]!);
    });
  }
  // The long-running programs (those the configuration service knows) stop through onShutdown:
  // registered before theirs, this runs after them, so their closing lines are shipped too, within
  // half a second. The client and its bot stop on their own (a report after SIGTERM): installing
  // the shutdown handlers would exit them first.
  if (isConfigProgram(program)) onShutdown(() => shipper.close(500));
  return shipper;
}
