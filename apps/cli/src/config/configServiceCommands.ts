import { readFileSync } from 'node:fs';
import { CONFIG_PROGRAMS, isConfigProgram, parseSettings, type ConfigProgram, type Settings } from '@correio/config';
import { Command, envOption, parseDurationMs, parseEndpoint, parsePositiveInt } from '@correio/observability';
import type { BodyOf } from '@correio/protocol';
import { Subscriber } from '@correio/transport';
import { parse as parseYaml } from 'yaml';
import { exitQuietlyWhenStdoutCloses } from '../closedStdout.js';
import { explainServiceError, OperatorClient, type OperatorClientOptions } from '../OperatorClient.js';
import { documentDiff, formatDiff } from './documentDiff.js';

interface CommonFlags {
  readonly broker: string;
  readonly timeout: number;
  readonly token?: string;
  readonly user?: string;
  readonly password?: string;
  readonly instance?: string;
  readonly json?: boolean;
}

/**
 * `correio config get|set|diff|history|rollback|watch`: the configuration service (protocol
 * revision 1.4) from a terminal. Reads need no account; changes and history need an operator's
 * token or login. Every change is compare-and-set on the version read, so two operators never
 * overwrite each other unseen.
 */
export function addConfigServiceCommands(config: Command): void {
  withCommon(config.command('get').description("print a program's settings document, its version, and the effective settings of an instance"))
    .argument('<program>', programsText())
    .action((program: string, flags: CommonFlags) =>
      withService(flags, async (service) => {
        const reply = await service.request('config.get.request', scope(program, flags));
        if (flags.json) return print(reply);
        print(`${describe(program, flags.instance)}: version ${reply.version}${reply.author ? ` by ${reply.author} at ${new Date(reply.at!).toISOString()}` : ' (none set)'}`);
        print(pretty(reply.document));
        if (flags.instance !== undefined) print(`effective (kind version ${reply.kind_version} with the instance's keys over it):\n${pretty(reply.effective)}`);
      }),
    );

  withCommon(config.command('set').description('set a new version: a whole document from a file, or keys changed in the current one'))
    .argument('<program>', programsText())
    .argument('[file]', 'the document: a JSON or YAML map of settings (keys as in the config file section)')
    .option('--set <key=value...>', 'change keys of the current document (values in YAML: 5, true, debug, [a, b])')
    .option('--unset <key...>', 'remove keys from the current document')
    .option('--expected-version <n>', 'the version the change is made against (default: the version read now)', parseNonNegative)
    .action((program: string, file: string | undefined, flags: CommonFlags & { set?: string[]; unset?: string[]; expectedVersion?: number }) =>
      withService(flags, async (service) => {
        if (file === undefined && flags.set === undefined && flags.unset === undefined) throw new Error('give a document file, or --set key=value / --unset key');
        const current = await service.request('config.get.request', scope(program, flags));
        let settings: Record<string, unknown> = file === undefined ? { ...parseSettings(current.document) } : readDocument(file);
        for (const assignment of flags.set ?? []) {
          const at = assignment.indexOf('=');
          if (at <= 0) throw new Error(`--set ${assignment}: write key=value`);
          settings = { ...settings, [assignment.slice(0, at)]: parseYaml(assignment.slice(at + 1)) as unknown };
        }
        for (const key of flags.unset ?? []) settings = Object.fromEntries(Object.entries(settings).filter(([name]) => name !== key));
        const expected = flags.expectedVersion ?? current.version;
        const reply = await service.request('config.set.request', { ...scope(program, flags), document: JSON.stringify(settings), expected_version: expected }, true);
        if (flags.json) return print(reply);
        process.stdout.write(formatDiff(documentDiff(parseSettings(current.document), settings)));
        print(`${describe(program, flags.instance)}: version ${reply.version} set (was ${expected})`);
      }),
    );

  withCommon(config.command('diff').description('compare the current document with a file, or two versions'))
    .argument('<program>', programsText())
    .argument('[file]', 'a document file to compare the current one with')
    .option('--from <version>', 'compare this version...', parsePositiveInt)
    .option('--to <version>', '...with this one (default: the current one)', parsePositiveInt)
    .action((program: string, file: string | undefined, flags: CommonFlags & { from?: number; to?: number }) =>
      withService(flags, async (service) => {
        const current = await service.request('config.get.request', scope(program, flags));
        const at = async (version: number | undefined): Promise<Settings> => {
          if (version === undefined || version === current.version) return parseSettings(current.document);
          const [entry] = (await service.request('config.history.request', { ...scope(program, flags), before_version: version + 1, limit: 1 }, true)).versions;
          if (entry?.version !== version) throw new Error(`${describe(program, flags.instance)} has no version ${version}`);
          return parseSettings(entry.document);
        };
        const before = file === undefined ? await at(flags.from ?? Math.max(current.version - 1, 0)) : await at(undefined);
        const after = file === undefined ? await at(flags.to) : readDocument(file);
        process.stdout.write(formatDiff(documentDiff(before, after)));
      }),
    );

  withCommon(config.command('history').description('list the versions of a document, newest first, with author and time'))
    .argument('<program>', programsText())
    .option('--limit <n>', 'versions to list (1–100)', parsePositiveInt, 20)
    .action((program: string, flags: CommonFlags & { limit: number }) =>
      withService(flags, async (service) => {
        const reply = await service.request('config.history.request', { ...scope(program, flags), limit: Math.min(flags.limit, 100) }, true);
        if (flags.json) return print(reply);
        if (reply.versions.length === 0) print(`${describe(program, flags.instance)}: no versions`);
        for (const entry of reply.versions) {
          print(`v${entry.version}  ${new Date(entry.at).toISOString()}  ${entry.author}${entry.rollback_of === undefined ? '' : `  (rollback to v${entry.rollback_of})`}  ${entry.document}`);
        }
      }),
    );

  withCommon(config.command('rollback').description("make an earlier version's document current again, as a new version"))
    .argument('<program>', programsText())
    .requiredOption('--to <version>', 'the version to restore', parsePositiveInt)
    .option('--expected-version <n>', 'the version the rollback is made against (default: the version read now)', parseNonNegative)
    .action((program: string, flags: CommonFlags & { to: number; expectedVersion?: number }) =>
      withService(flags, async (service) => {
        const expected = flags.expectedVersion ?? (await service.request('config.get.request', scope(program, flags))).version;
        const reply = await service.request('config.rollback.request', { ...scope(program, flags), to_version: flags.to, expected_version: expected }, true);
        if (flags.json) return print(reply);
        print(`${describe(program, flags.instance)}: version ${reply.version} restores version ${flags.to}`);
      }),
    );

  withCommon(config.command('watch').description('print each configuration change as it is made, until Ctrl-C'))
    .argument('[programs...]', `programs to watch (default: all): ${CONFIG_PROGRAMS.join(', ')}`)
    .addOption(envOption('--proxy-sub <endpoint>', "the proxy's subscriber (XPUB) endpoint", 'CORREIO_PROXY_SUB').argParser(parseEndpoint).default('tcp://127.0.0.1:5571'))
    .option('--count <n>', 'stop after this many changes', parsePositiveInt)
    .action(async (programs: string[], flags: CommonFlags & { proxySub: string; count?: number }) => {
      for (const program of programs) requireProgram(program);
      const subscriber = new Subscriber({ topics: (programs.length > 0 ? programs : CONFIG_PROGRAMS).map((program) => `config/${program}/`) });
      subscriber.connect(flags.proxySub);
      const stop = () => void subscriber.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let seen = 0;
      try {
        for await (const publication of subscriber) {
          if (publication.envelope.type !== 'config.changed') continue;
          const changed: BodyOf<'config.changed'> = publication.envelope.body;
          if (flags.json) print(changed);
          else print(`${new Date(changed.at).toISOString()}  ${describe(changed.program, changed.instance)}  v${changed.version}  by ${changed.author}`);
          if (flags.count !== undefined && ++seen >= flags.count) break;
        }
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await subscriber.close();
      }
    });
}

function withCommon(command: Command): Command {
  return command
    .addOption(envOption('--broker <endpoint>', 'the broker (MDP) endpoint', 'CORREIO_BROKER').argParser(parseEndpoint).default('tcp://127.0.0.1:5555'))
    .option('--instance <id>', "one program's node id (--id) rather than the whole kind")
    .addOption(envOption('--token <token>', "an operator's access token (changes and history need one)", 'CORREIO_TOKEN'))
    .addOption(envOption('--user <name>', 'log in as this operator when no --token is given', 'CORREIO_USER'))
    .addOption(envOption('--password <password>', "the operator's password (the variable keeps it out of the process list)", 'CORREIO_PASSWORD'))
    .addOption(envOption('--timeout <ms>', 'per-attempt request time-out', 'CORREIO_CLIENT_TIMEOUT').argParser(parseDurationMs).default(5_000))
    .option('--json', 'print the replies as JSON');
}

async function withService(flags: CommonFlags, work: (service: OperatorClient) => Promise<void>): Promise<void> {
  exitQuietlyWhenStdoutCloses();
  const options: OperatorClientOptions = {
    broker: flags.broker,
    timeout: flags.timeout,
    ...(flags.token === undefined ? {} : { token: flags.token }),
    ...(flags.user === undefined ? {} : { user: flags.user }),
    ...(flags.password === undefined ? {} : { password: flags.password }),
  };
  const service = new OperatorClient(options);
  try {
    await work(service);
  } catch (error) {
    throw new Error(explainServiceError(error));
  } finally {
    await service.close();
  }
}

function scope(program: string, flags: { readonly instance?: string }): { program: ConfigProgram; instance?: string } {
  requireProgram(program);
  return flags.instance === undefined ? { program } : { program, instance: flags.instance };
}

function requireProgram(program: string): asserts program is ConfigProgram {
  if (!isConfigProgram(program)) throw new Error(`no program "${program}" to configure; choose one of ${CONFIG_PROGRAMS.join(', ')}`);
}

function readDocument(file: string): Record<string, unknown> {
  const value: unknown = parseYaml(readFileSync(file, 'utf8'));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${file}: a document is a map of settings, such as "logLevel: debug"`);
  return value as Record<string, unknown>;
}

function parseNonNegative(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) throw new Error(`not a version number: ${value}`);
  return number;
}

function describe(program: string, instance: string | undefined): string {
  return instance === undefined ? program : `${program} ${instance}`;
}

function pretty(document: string): string {
  return JSON.stringify(parseSettings(document), null, 2);
}

function programsText(): string {
  return `the program: ${CONFIG_PROGRAMS.join(', ')}`;
}

function print(value: unknown): void {
  process.stdout.write(typeof value === 'string' ? `${value}\n` : `${JSON.stringify(value)}\n`);
}
