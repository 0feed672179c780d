import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { centralSettings } from './config/centralSettings.js';
import type { CorreioConfig } from './config/loadConfig.js';
import { fillEnvironment, sectionSettings } from './config/sectionSettings.js';
import { PROGRAMS, sectionCommand, type Program, type ProgramName, type SectionName } from './programs.js';
import { watchSupervisor } from './watchSupervisor.js';

const HELP_FLAGS = new Set(['--help', '-h']);

/**
 * `correio <program> [flags]`: runs the program's own entry point (the `bin` of its package) in
 * this process, so its flags, readiness line, logs and shutdown are exactly those of the program
 * run on its own. The config file's section fills the environment variables the program reads;
 * with CORREIO_CONFIG_SERVICE, the configuration service's settings come first, and are followed
 * (and with CORREIO_LOG_SERVICE the program itself ships its log lines: @correio/logs).
 */
export async function runProgram(name: ProgramName, args: readonly string[], config: CorreioConfig | undefined): Promise<void> {
  const program = PROGRAMS[name];
  if (args.some((arg) => HELP_FLAGS.has(arg)) || args[0] === 'help') {
    printHelp(program, args);
    return;
  }
  const sections: SectionName[] = name === 'client' && args[0] === 'bot' ? ['bot', 'client'] : [name];
  const extra: string[] = [];
  // The configuration service's settings go in before the file's, which fill only what they leave unset.
  const central = await centralSettings(name, sectionCommand(sections[0]!), args, config?.sections[sections[0]!]);
  if (central?.fetched) {
    const settings = sectionSettings(sectionCommand(sections[0]!), central.fetched.settings, sections[0]!, 'the configuration service');
    fillEnvironment(process.env, settings.env);
    extra.push(...settings.args);
  }
  for (const section of sections) {
    const settings = sectionSettings(sectionCommand(section), config?.sections[section], section, config?.file ?? '');
    fillEnvironment(process.env, settings.env);
    extra.push(...settings.args);
  }
  // Flags from the file go first so the user's own flags, parsed later, win.
  const finalArgs = sections[0] === 'bot' ? ['bot', ...extra, ...args.slice(1)] : [...extra, ...args];
  const entry = programEntry(program);
  process.argv = [process.argv[0]!, entry, ...finalArgs];
  watchSupervisor();
  await import(pathToFileURL(entry).href);
  central?.follow();
}

/**
 * The file a program's `bin` names. When `correio` itself runs from TypeScript sources the
 * program does too (dist/x.js → src/x.ts, per each package's tsconfig.lib.json), so a stale
 * build never shadows the code being worked on.
 */
export function programEntry(program: Program): string {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve(`${program.packageName}/package.json`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.[program.binName];
  if (!bin) throw new Error(`${program.packageName} has no bin named ${program.binName}; is it installed?`);
  const built = join(dirname(manifestPath), bin);
  if (!import.meta.url.endsWith('.ts')) return built;
  return built.replace(/([\\/])dist([\\/])(.*)\.js$/, '$1src$2$3.ts');
}

function printHelp(program: Program, args: readonly string[]): void {
  const root = program.command().name(`correio ${program.name}`);
  const sub = root.commands.find((candidate) => candidate.name() === args[0]);
  const command = sub ?? root;
  const section = sub ? sub.name() : program.name;
  command.addHelpText(
    'after',
    `\nEvery option can also come from the config file (--config <file> or CORREIO_CONFIG), section "${section}", ` +
      `key in camelCase (--max-queue → maxQueue), and from the configuration service when CORREIO_CONFIG_SERVICE names its broker. ` +
      `Precedence: flag > environment variable > configuration service > config file > default.\n`,
  );
  command.outputHelp();
}
