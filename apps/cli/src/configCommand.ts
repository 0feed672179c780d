import { Command } from '@correio/observability';
import { addConfigServiceCommands } from './config/configServiceCommands.js';
import type { CorreioConfig } from './config/loadConfig.js';
import { sectionSettings } from './config/sectionSettings.js';
import { SECTION_NAMES, sectionCommand, type SectionName } from './programs.js';

type ReadConfig = (path: string | undefined) => CorreioConfig | undefined;

/**
 * `correio config [file]` (or `config check [file]`): checks a config file against the schema and
 * the programs' command lines, and prints what each section sets — as CORREIO_* variables, the
 * form a container or a service manager takes (`--env <section>` prints one section as an env
 * file). `config get|set|diff|history|rollback|watch` talk to the configuration service.
 */
export function configCommand(readConfig: ReadConfig): Command {
  const config = new Command('config').description('check a config file, or read and change the settings the configuration service holds (get, set, diff, history, rollback, watch)');
  addConfigServiceCommands(config);
  config.addCommand(withCheck(new Command('check').description('check a config file and show the CORREIO_* variables each of its sections sets'), readConfig));
  // `correio config <file>`, as before the service's commands existed.
  return withCheck(config, readConfig);
}

function withCheck(command: Command, readConfig: ReadConfig): Command {
  return command
    .argument('[file]', 'the config file (default: --config or CORREIO_CONFIG)')
    .option('--env <section>', `print one section as KEY=value lines (an env file): ${SECTION_NAMES.join(', ')}`)
    .action((file: string | undefined, options: { env?: string }) => check(readConfig(file), options));
}

function check(config: CorreioConfig | undefined, options: { env?: string }): void {
  if (!config) throw new Error('no config file: give one as an argument, with --config, or in CORREIO_CONFIG');
  if (options.env !== undefined) {
    if (!(SECTION_NAMES as readonly string[]).includes(options.env)) throw new Error(`--env: no section "${options.env}"; choose one of ${SECTION_NAMES.join(', ')}`);
    const settings = sectionSettings(sectionCommand(options.env as SectionName), config.sections[options.env as SectionName], options.env, config.file);
    for (const [name, value] of Object.entries(settings.env)) process.stdout.write(`${name}=${value}\n`);
    if (settings.args.length > 0) process.stderr.write(`# also pass these flags (they have no variable): ${settings.args.join(' ')}\n`);
    return;
  }
  process.stdout.write(`${config.file}: valid\n`);
  for (const section of SECTION_NAMES) {
    const values = config.sections[section];
    if (!values) continue;
    const settings = sectionSettings(sectionCommand(section), values, section, config.file);
    process.stdout.write(`\n[${section}]\n`);
    for (const [name, value] of Object.entries(settings.env)) process.stdout.write(`  ${name}=${value}\n`);
    if (settings.args.length > 0) process.stdout.write(`  flags: ${settings.args.join(' ')}\n`);
  }
  if (config.sections.up) process.stdout.write(`\n[up]\n${Object.entries(config.sections.up).map(([key, value]) => `  ${key}: ${JSON.stringify(value)}`).join('\n')}\n`);
}
