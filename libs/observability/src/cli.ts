import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { endpointProblem } from './endpoint.js';
import { LOG_LEVELS } from './logger.js';

export { Command, InvalidArgumentError, Option };

/** Options every Correio program takes. */
export interface CommonOptions {
  readonly logLevel: string;
  /** The HTTP side port for /health and /metrics; absent when the operator did not ask for one. */
  readonly httpPort?: number;
  readonly httpHost: string;
}

/** Parses a TCP port, 0–65535 (0 asks the OS for a free one). */
export function parsePort(value: string): number {
  const port = parseInteger(value);
  if (port < 0 || port > 65_535) throw new InvalidArgumentError('a port is an integer from 0 to 65535.');
  return port;
}

/** Parses an integer ≥ 1. */
export function parsePositiveInt(value: string): number {
  const n = parseInteger(value);
  if (n < 1) throw new InvalidArgumentError('expected an integer of at least 1.');
  return n;
}

/** Parses an integer ≥ 0. */
export function parseNonNegativeInt(value: string): number {
  const n = parseInteger(value);
  if (n < 0) throw new InvalidArgumentError('expected an integer of at least 0.');
  return n;
}

/** Parses a duration in milliseconds: `2500`, `2500ms`, `2.5s`, `1m`. */
const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDurationMs(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) throw new InvalidArgumentError('expected a duration such as 2500, 2500ms, 2.5s, 1m, 12h or 7d.');
  const factor = DURATION_UNITS_MS[match[2] ?? 'ms']!;
  const ms = Math.round(Number(match[1]) * factor);
  if (ms < 1) throw new InvalidArgumentError('a duration must be at least 1 ms.');
  return ms;
}

/** Parses a comma-separated list, dropping blanks: `a, b,,c` → ['a', 'b', 'c']. */
export function parseList(value: string): string[] {
  return value.split(',').map((item) => item.trim()).filter((item) => item.length > 0);
}

/** Checks a ZeroMQ endpoint (`tcp://host:port`, `ipc://path`, `inproc://name`), with its port in range. */
export function parseEndpoint(value: string): string {
  const problem = endpointProblem(value);
  if (problem) throw new InvalidArgumentError(problem);
  return value;
}

/** Checks a Z85-encoded CURVE key (40 characters). */
export function parseCurveKey(value: string): string {
  if (!/^[0-9a-zA-Z.:+=^!/*?&<>()[\]{}@%$#-]{40}$/.test(value)) {
    throw new InvalidArgumentError('expected a 40-character Z85 CURVE key.');
  }
  return value;
}

/** An option whose value may also come from an environment variable (`CORREIO_*`), shown in --help. */
export function envOption(flags: string, description: string, env: string): Option {
  return new Option(flags, description).env(env);
}

/**
 * Adds the options every Correio program takes: `--log-level` (CORREIO_LOG_LEVEL, default warn),
 * `--http-port` (CORREIO_HTTP_PORT; no side port unless given) and `--http-host` (CORREIO_HTTP_HOST).
 */
export function addCommonOptions(command: Command): Command {
  return command
    .addOption(envOption('--log-level <level>', 'log verbosity (JSON lines on stderr)', 'CORREIO_LOG_LEVEL').choices(LOG_LEVELS).default('warn'))
    .addOption(envOption('--http-port <port>', 'HTTP side port for /health and /metrics (0: any free port)', 'CORREIO_HTTP_PORT').argParser(parsePort))
    .addOption(envOption('--http-host <host>', 'address the HTTP side port binds', 'CORREIO_HTTP_HOST').default('127.0.0.1'));
}

/** A CURVE server's secret key from the command line, and the ZAP domain that authorises its clients. */
export interface CurveServerKey {
  readonly secretKey: string;
  readonly zapDomain?: string;
}

/**
 * Adds the options of a program that serves over CURVE: `--curve-secret-key <z85>`,
 * `--curve-secret-key-file <path>` and `--zap-domain <domain>`, also read from
 * `<envPrefix>_CURVE_SECRET_KEY`, `<envPrefix>_CURVE_SECRET_KEY_FILE` and `<envPrefix>_ZAP_DOMAIN`.
 */
export function addCurveServerOptions(command: Command, envPrefix: string): Command {
  return command
    .addOption(envOption('--curve-secret-key <z85>', 'enable CURVE with this server secret key', `${envPrefix}_CURVE_SECRET_KEY`).argParser(parseCurveKey))
    .addOption(envOption('--curve-secret-key-file <path>', 'enable CURVE with the secret key held in this file', `${envPrefix}_CURVE_SECRET_KEY_FILE`))
    .addOption(envOption('--zap-domain <domain>', 'ZAP domain for CURVE client authorisation', `${envPrefix}_ZAP_DOMAIN`));
}

/**
 * The CURVE server key of a command parsed with addCurveServerOptions; undefined when CURVE is off.
 * Fails the command with a one-line message when both key options are given, or when the key file
 * cannot be read or holds no Z85 key.
 */
export function curveServerKey(command: Command): CurveServerKey | undefined {
  const { curveSecretKey, curveSecretKeyFile, zapDomain } = command.opts<{ curveSecretKey?: string; curveSecretKeyFile?: string; zapDomain?: string }>();
  if (curveSecretKey !== undefined && curveSecretKeyFile !== undefined) {
    command.error('error: give --curve-secret-key or --curve-secret-key-file, not both');
  }
  const secretKey = curveSecretKey ?? (curveSecretKeyFile !== undefined ? readKeyFile(command, curveSecretKeyFile) : undefined);
  if (secretKey === undefined) return undefined;
  return { secretKey, ...(zapDomain ? { zapDomain } : {}) };
}

/** A CURVE client's keys for one server: the server's public key and this program's own key pair. */
export interface CurveClientKeys {
  readonly serverKey: string;
  readonly publicKey: string;
  readonly secretKey: string;
}

/** The CURVE keys of a program that connects to both the broker and the proxy. */
export interface CurveClientKeySet {
  readonly broker: CurveClientKeys;
  readonly proxy: CurveClientKeys;
}

/**
 * Adds the options of a program that connects over CURVE: `--curve-server-key <z85>` (the broker's
 * public key), `--curve-proxy-server-key <z85>` (the proxy's, when it differs), and this program's own
 * pair `--curve-public-key` with `--curve-secret-key` or `--curve-secret-key-file`; also read from
 * `<envPrefix>_CURVE_SERVER_KEY`, `_CURVE_PROXY_SERVER_KEY`, `_CURVE_PUBLIC_KEY`, `_CURVE_SECRET_KEY`
 * and `_CURVE_SECRET_KEY_FILE`.
 */
export function addCurveClientOptions(command: Command, envPrefix: string): Command {
  return command
    .addOption(envOption('--curve-server-key <z85>', "enable CURVE: the broker's public key (and the proxy's, unless --curve-proxy-server-key)", `${envPrefix}_CURVE_SERVER_KEY`).argParser(parseCurveKey))
    .addOption(envOption('--curve-proxy-server-key <z85>', "the proxy's public key, when it differs from the broker's", `${envPrefix}_CURVE_PROXY_SERVER_KEY`).argParser(parseCurveKey))
    .addOption(envOption('--curve-public-key <z85>', "this program's CURVE public key (default: a fresh pair at every start)", `${envPrefix}_CURVE_PUBLIC_KEY`).argParser(parseCurveKey))
    .addOption(envOption('--curve-secret-key <z85>', "this program's CURVE secret key, with --curve-public-key", `${envPrefix}_CURVE_SECRET_KEY`).argParser(parseCurveKey))
    .addOption(envOption('--curve-secret-key-file <path>', "this program's CURVE secret key, held in this file", `${envPrefix}_CURVE_SECRET_KEY_FILE`));
}

/**
 * The CURVE client keys of a command parsed with addCurveClientOptions; undefined when CURVE is off
 * (no server key). Without an own key pair, `generateKeyPair` supplies a fresh one (transport's
 * generateCurveKeyPair: this library sits below the transport); without it, the pair is required.
 * Fails the command with a one-line message on an incomplete or contradictory set of keys.
 */
export function curveClientKeys(command: Command, generateKeyPair?: () => { readonly publicKey: string; readonly secretKey: string }): CurveClientKeySet | undefined {
  const raw = command.opts<{ curveServerKey?: string; curveProxyServerKey?: string; curvePublicKey?: string; curveSecretKey?: string; curveSecretKeyFile?: string }>();
  if (raw.curveSecretKey !== undefined && raw.curveSecretKeyFile !== undefined) {
    command.error('error: give --curve-secret-key or --curve-secret-key-file, not both');
  }
  const secretKey = raw.curveSecretKey ?? (raw.curveSecretKeyFile !== undefined ? readKeyFile(command, raw.curveSecretKeyFile) : undefined);
  const publicKey = raw.curvePublicKey;
  if (raw.curveServerKey === undefined) {
    if (raw.curveProxyServerKey !== undefined || publicKey !== undefined || secretKey !== undefined) {
      command.error("error: CURVE client keys need --curve-server-key (the broker's public key)");
    }
    return undefined;
  }
  if ((publicKey === undefined) !== (secretKey === undefined)) {
    command.error('error: give --curve-public-key and --curve-secret-key (or --curve-secret-key-file) together');
  }
  let pair: { readonly publicKey: string; readonly secretKey: string };
  if (publicKey !== undefined && secretKey !== undefined) pair = { publicKey, secretKey };
  else if (generateKeyPair) pair = generateKeyPair();
  else return command.error('error: --curve-server-key needs this program\'s key pair: --curve-public-key and --curve-secret-key');
  const broker = { serverKey: raw.curveServerKey, publicKey: pair.publicKey, secretKey: pair.secretKey };
  return { broker, proxy: { ...broker, serverKey: raw.curveProxyServerKey ?? raw.curveServerKey } };
}

function readKeyFile(command: Command, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return command.error(`error: cannot read --curve-secret-key-file ${path}: ${(error as Error).message}`);
  }
  try {
    return parseCurveKey(text.trim());
  } catch (error) {
    if (error instanceof InvalidArgumentError) return command.error(`error: --curve-secret-key-file ${path}: ${error.message}`);
    throw error;
  }
}

/**
 * Runs a program's main function: a failure prints one clear line on stderr (`<program>: <message>`)
 * and exits with status 1, instead of a stack trace.
 */
export function runMain(program: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${program}: ${message}\n`);
    if (process.env['CORREIO_DEBUG'] && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  });
}

function parseInteger(value: string): number {
  if (!/^\s*-?\d+\s*$/.test(value)) throw new InvalidArgumentError('expected an integer.');
  return Number.parseInt(value, 10);
}
