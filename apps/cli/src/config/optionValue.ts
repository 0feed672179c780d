import type { Command } from '@correio/observability';
import type { SectionValues } from './loadConfig.js';

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
