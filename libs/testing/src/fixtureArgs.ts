// For the fixture programs that tests run as child processes (spawnProgram): their flags, and the
// JSON events they print for Child.events / Child.waitForEvent to read.

/** The value after `--<name>` on the command line, else `fallback`; throws when neither is there. */
export function argValue(name: string, fallback?: string): string {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? process.argv[index + 1] : fallback;
  if (value === undefined) throw new Error(`missing --${name}`);
  return value;
}

/** argValue as a number; throws on one that is not. */
export function argNumber(name: string, fallback?: number): number {
  const value = argValue(name, fallback === undefined ? undefined : String(fallback));
  const number = Number(value);
  if (value.trim() === '' || Number.isNaN(number)) throw new Error(`--${name}: expected a number, got ${JSON.stringify(value)}`);
  return number;
}

/** Prints one event as a JSON line on stdout: `{"event": …, …details}`. */
export function report(event: string, details: Readonly<Record<string, unknown>> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...details })}\n`);
}
