export function arg(name: string, fallback?: string): string {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? process.argv[index + 1] : fallback;
  if (value === undefined) throw new Error(`missing --${name}`);
  return value;
}

export function numberArg(name: string, fallback?: number): number {
  return Number(arg(name, fallback === undefined ? undefined : String(fallback)));
}
