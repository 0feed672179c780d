import { readFileSync } from 'node:fs';
import { Command, Option } from '@correio/observability';
import { loadConfig, type CorreioConfig } from './config/loadConfig.js';
import { authCommand } from './authCommand.js';
import { configCommand } from './configCommand.js';
import { logsCommand } from './logs/logsCommand.js';
import { tasksCommand } from './tasks/tasksCommand.js';
import { PROGRAM_NAMES, PROGRAMS } from './programs.js';
import { runProgram } from './runProgram.js';
import { upCommand } from './up/upCommand.js';

export const CONFIG_ENV = 'CORREIO_CONFIG';

/**
 * The `correio` command line: one subcommand per program (`broker`, `proxy`, `ref`, `server`,
 * `client`), `up` for the whole topology, and `config` to check a config file. Resolves once the
 * subcommand is done; a long-running program keeps the process alive until it shuts down.
 */
export async function runCli(argv: readonly string[]): Promise<void> {
  const program = new Command('correio')
    .description(
      'Correio: distributed messaging on ZeroMQ. Each program runs under its own subcommand with its own flags; ' +
        '`correio up` runs the whole topology on this machine.',
    )
    .version(version(), '-V, --version')
    .addOption(configOption())
    .enablePositionalOptions()
    .showHelpAfterError('(add --help for the list of commands)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  correio up                          ref, broker, proxy, 3 servers and 2 traffic bots, until Ctrl-C\n' +
        '  correio client --user ana           log in (to the topology `up` started) and chat\n' +
        '  correio broker --help               the broker\'s flags and their CORREIO_* variables\n' +
        '  correio --config correio.yaml up    settings from a file (flags > variables > file > defaults)\n',
    );

  for (const name of PROGRAM_NAMES) {
    program
      .command(name)
      .description(PROGRAMS[name].summary)
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .passThroughOptions()
      .argument('[flags...]', `flags of the ${name} (correio ${name} --help lists them)`)
      .action(async (flags: string[]) => {
        const { path, rest } = takeConfigFlag(flags);
        await runProgram(name, rest, readConfig(path ?? program.opts<{ config?: string }>().config));
      });
  }
  program.addCommand(upCommand((path) => readConfig(path ?? program.opts<{ config?: string }>().config)));
  program.addCommand(configCommand((path) => readConfig(path ?? program.opts<{ config?: string }>().config)));
  program.addCommand(logsCommand());
  program.addCommand(tasksCommand());
  program.addCommand(authCommand());
  await program.parseAsync(programHelp(argv));
}

/**
 * `correio help server` → `correio server --help`: commander's own help command would print the
 * stub of the pass-through subcommand, not the program's flags.
 */
function programHelp(argv: readonly string[]): string[] {
  const [node = 'node', script = 'correio', first, ...rest] = argv;
  const isProgram = (name: string | undefined): boolean => (PROGRAM_NAMES as readonly string[]).includes(name ?? '');
  return first === 'help' && isProgram(rest[0]) ? [node, script, ...rest, '--help'] : [...argv];
}

/** `--config <file>`, also read from CORREIO_CONFIG. */
export function configOption(): Option {
  return new Option('--config <file>', 'config file (YAML or JSON) with a section per program').env(CONFIG_ENV);
}

function readConfig(path: string | undefined): CorreioConfig | undefined {
  return path === undefined || path === '' ? undefined : loadConfig(path);
}

/** Takes `--config <file>` / `--config=<file>` out of a program's flags (the program itself has no such flag). */
export function takeConfigFlag(flags: readonly string[]): { path: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let path: string | undefined;
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i]!;
    if (flag === '--') {
      rest.push(...flags.slice(i));
      break;
    }
    if (flag === '--config') {
      path = flags[++i];
      if (path === undefined) throw new Error('--config needs a file name');
    } else if (flag.startsWith('--config=')) {
      path = flag.slice('--config='.length);
    } else {
      rest.push(flag);
    }
  }
  return { path, rest };
}

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}
