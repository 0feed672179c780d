import type { Command, Option } from '@correio/observability';
import { ConfigError } from './ConfigError.js';
import type { SectionValues } from './loadConfig.js';

/** How a config section reaches a program: environment variables, plus flags for options that have none. */
export interface SectionSettings {
  /** `CORREIO_*` variables to set where the environment does not set them already. */
  readonly env: Readonly<Record<string, string>>;
  /** Flags for options without a variable (such as `--no-proxy`); they go before the user's own flags. */
  readonly args: readonly string[];
}

/**
 * Translates a config section into what the program's own command line reads. Each key is an
 * option's attribute name (`--max-queue` → `maxQueue`); its value becomes the option's environment
 * variable, so the program parses and checks it exactly as it parses a variable, and the
 * precedence flags > environment > config file > defaults falls out: the file only fills
 * variables the environment leaves unset.
 */
export function sectionSettings(command: Command, values: SectionValues | undefined, section: string, file: string): SectionSettings {
  const env: Record<string, string> = {};
  const args: string[] = [];
  if (!values) return { env, args };
  // `--ref <service>` and `--no-ref` share the key `ref`: false means the negation, anything else the value.
  const options = new Map<string, Option[]>();
  for (const option of command.options) options.set(option.attributeName(), [...(options.get(option.attributeName()) ?? []), option]);
  const stale: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    const candidates = options.get(key) ?? [];
    const option = candidates.find((candidate) => candidate.negate === (value === false)) ?? candidates[0];
    if (!option) {
      // The schema let it through but the program no longer has the flag: say so rather than ignore it.
      stale.push(key);
      continue;
    }
    if (option.negate) {
      if (value === false) args.push(option.long!);
      continue;
    }
    const isSwitch = !option.required && !option.optional;
    if (isSwitch) {
      // A switch's variable turns it on whatever its value, so `false` must leave it unset.
      if (value === true) {
        if (option.envVar) env[option.envVar] = 'true';
        else args.push(option.long!);
      }
      continue;
    }
    const text = asText(value);
    if (option.envVar) env[option.envVar] = text;
    else args.push(option.long!, text);
  }
  if (stale.length > 0) {
    throw new ConfigError(
      file,
      stale.map((key) => ({
        key: `${section}.${key}`,
        message: `\`${command.name()}\` has no --${kebab(key)} option any more; remove the key (\`${command.name()} --help\` lists the options).`,
      })),
    );
  }
  return { env, args };
}

/** Sets the variables the environment leaves unset; returns the names it set. */
export function fillEnvironment(target: NodeJS.ProcessEnv, env: Readonly<Record<string, string>>): string[] {
  const filled: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (name in target) continue;
    target[name] = value;
    filled.push(name);
  }
  return filled;
}

/** The environment variables a command reads, by option attribute name. */
export function environmentOf(command: Command): Map<string, string> {
  const variables = new Map<string, string>();
  for (const option of command.options) if (option.envVar) variables.set(option.attributeName(), option.envVar);
  return variables;
}

function asText(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(',');
  return String(value);
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
