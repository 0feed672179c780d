import { ConfigFollower, isConfigProgram, type ConfigProgram, type FetchedConfig, type Settings } from '@correio/config';
import { createLogger, onReady, onShutdown, type Command, type Logger } from '@correio/observability';
import type { SectionValues } from './loadConfig.js';

/** The broker through which programs fetch their settings from the configuration service. */
export const CONFIG_SERVICE_ENV = 'CORREIO_CONFIG_SERVICE';
/** The proxy's XPUB endpoint, where programs hear configuration changes at once. */
export const CONFIG_EVENTS_ENV = 'CORREIO_CONFIG_EVENTS';

/** A program's link to the configuration service, set up before the program runs. */
export interface CentralSettings {
  /** What the service held at start (undefined: unreachable, or the program reads it once it is up). */
  readonly fetched: FetchedConfig | undefined;
  /** Starts following changes; call once the program is running. */
  follow(): void;
}

/**
 * With CORREIO_CONFIG_SERVICE set, fetches `program`'s effective settings (kind, then instance)
 * before it starts, so they sit between the environment and the config file: flags > environment
 * > configuration service > config file > defaults. The broker cannot ask itself before it is up:
 * it reads them once running, applies what can change live and reports the rest. An endpoint
 * that is a program's own and not known before it binds (`tcp://127.0.0.1:*`) is taken from its
 * readiness line. Never fails the program: without the service it runs on its local settings.
 */
export async function centralSettings(program: string, command: Command, args: readonly string[], fileValues: SectionValues | undefined, env: NodeJS.ProcessEnv = process.env): Promise<CentralSettings | undefined> {
  if (!isConfigProgram(program)) return undefined;
  const broker = concrete(env[CONFIG_SERVICE_ENV]);
  const events = concrete(env[CONFIG_EVENTS_ENV]);
  // Neither given: the program is not asked to use the service.
  if (env[CONFIG_SERVICE_ENV] === undefined || env[CONFIG_SERVICE_ENV] === '') return undefined;
  const instance = optionValue(command, 'id', args, env, fileValues);
  const logger = createLogger(`correio-${program}`, { base: { component: 'config' } });
  const start = (service: string, eventsAt: string | undefined): ConfigFollower | undefined => {
    try {
      const follower = new ConfigFollower({
        program,
        ...(instance === undefined ? {} : { instance }),
        broker: service,
        ...(eventsAt === undefined ? {} : { events: eventsAt }),
        logger,
      });
      onShutdown(() => follower.close());
      return follower;
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'cannot reach the configuration service; running on the local settings');
      return undefined;
    }
  };
  if (program === 'broker' || broker === undefined) return deferred(program, broker, events, fileValues, start, logger);
  const follower = start(broker, events);
  const fetched = await follower?.fetch();
  return {
    fetched,
    follow: () => {
      if (!follower) return;
      if (events !== undefined || program !== 'proxy') follower.follow(fetched);
      else {
        // The proxy hears changes on its own XPUB port, known once it binds.
        const stop = onReady((line) => {
          stop();
          follower.follow(fetched, field(line, 'subscribers'));
        });
      }
    },
  };
}

/** The broker: it serves the requests itself, so it asks once it is up, at the endpoint its readiness line names when it was not given. */
function deferred(program: ConfigProgram, broker: string | undefined, events: string | undefined, fileValues: SectionValues | undefined, start: (service: string, events: string | undefined) => ConfigFollower | undefined, logger: Logger): CentralSettings {
  // Its settings at start, as far as the service goes, are the file's: a later answer is compared with them.
  const baseline: FetchedConfig = { settings: (fileValues ?? {}) as Settings, kindVersion: -1, instanceVersion: -1 };
  return {
    fetched: undefined,
    follow: () => {
      if (broker !== undefined) return void start(broker, events)?.follow(baseline);
      if (program !== 'broker') return logger.debug({ program }, 'no configuration service endpoint known; running on the local settings');
      const stop = onReady((line) => {
        stop();
        const own = /^broker ready (\S+)/.exec(line)?.[1];
        if (own !== undefined) start(own.split(',')[0]!, events)?.follow(baseline);
      });
    },
  };
}

/** An endpoint usable to connect to: not empty, no wildcard port or host. */
function concrete(endpoint: string | undefined): string | undefined {
  return endpoint === undefined || endpoint === '' || endpoint.includes('*') ? undefined : endpoint;
}

function field(line: string, name: string): string | undefined {
  return concrete(new RegExp(`(?:^| )${name}=(\\S+)`).exec(line)?.[1]);
}

/** An option's value as the program will see it: flag, then environment variable, then config file. */
export function optionValue(command: Command, key: string, args: readonly string[], env: NodeJS.ProcessEnv, fileValues: SectionValues | undefined): string | undefined {
  const option = command.options.find((candidate) => candidate.attributeName() === key);
  if (!option?.long) return undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === option.long) return args[i + 1];
    if (args[i]!.startsWith(`${option.long}=`)) return args[i]!.slice(option.long.length + 1);
  }
  const fromEnv = option.envVar === undefined ? undefined : env[option.envVar];
  if (fromEnv !== undefined) return fromEnv;
  const fromFile = fileValues?.[key];
  return fromFile === undefined ? undefined : String(fromFile);
}
