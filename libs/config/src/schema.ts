import { readFileSync } from 'node:fs';

/** The programs whose settings the configuration service holds: sections of the config file (protocol defs.json `configProgram`). */
export const CONFIG_PROGRAMS = ['broker', 'proxy', 'ref', 'server', 'gateway'] as const;
export type ConfigProgram = (typeof CONFIG_PROGRAMS)[number];

/** The schema ships next to src/ and dist/, so both find it one level up. */
const SCHEMA_URL = new URL('../config.schema.json', import.meta.url);

/**
 * The JSON Schema of the config file: one section per program, each key a program option in
 * camelCase. The configuration service checks its documents against the same sections. A fresh
 * copy each call: callers may extend it before compiling.
 */
export function configSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as Record<string, unknown>;
}

export function isConfigProgram(name: string): name is ConfigProgram {
  return (CONFIG_PROGRAMS as readonly string[]).includes(name);
}
