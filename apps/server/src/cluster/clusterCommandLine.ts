import { InvalidArgumentError, envOption, parseDurationMs, parseNonNegativeInt, parsePositiveInt, type Command } from '@correio/observability';
import type { ClockSyncOptions } from './ClockSync.js';
import type { ClusterOptions } from './Cluster.js';
import type { InjectedClockError } from './clusterTime.js';

/** The cluster's part of the server options, as the command line gives them. */
export interface ClusterCommandLine {
  /** false: standalone (`--no-ref`). */
  readonly ref: ClusterOptions | false;
  readonly clockSync: ClockSyncOptions;
  readonly clockError: InjectedClockError;
}

interface RawClusterOptions {
  ref: string | false;
  refHeartbeat: number;
  refMisses: number;
  electionTimeout: number;
  clockSyncInterval: number;
  clockSyncEvery: number;
  clockMaxDeviation: number;
  clockMaxRtt: number;
  clockRoundTimeout: number;
  clockSkewMs: number;
  clockDriftPpm: number;
}

/** Adds the cluster flags (reference server, election, clock synchronisation, injected clock error) to the server command. */
export function addClusterOptions(command: Command): Command {
  return command
    .addOption(
      envOption('--ref <service>', 'join the cluster through the reference server on this broker service ("off": standalone)', 'CORREIO_SERVER_REF')
        .argParser(parseRefService)
        .default('ref'),
    )
    .option('--no-ref', 'standalone: no reference server, no election, no clock synchronisation rounds')
    .addOption(envOption('--ref-heartbeat <ms>', "heartbeat period to the reference server; not above the ref's --heartbeat", 'CORREIO_SERVER_REF_HEARTBEAT').argParser(parseDurationMs).default(1_000))
    .addOption(envOption('--ref-misses <n>', "the reference server's --misses (bounds the coordinator's lease)", 'CORREIO_SERVER_REF_MISSES').argParser(parsePositiveInt).default(3))
    .addOption(envOption('--election-timeout <ms>', 'how long an election candidate waits for higher-ranked servers', 'CORREIO_SERVER_ELECTION_TIMEOUT').argParser(parseDurationMs).default(1_000))
    .addOption(envOption('--clock-sync-interval <ms>', 'the coordinator runs a Berkeley round this often (0: only every N messages)', 'CORREIO_SERVER_CLOCK_SYNC_INTERVAL').argParser(parseOptionalDurationMs).default(10_000))
    .addOption(envOption('--clock-sync-every <n>', 'the coordinator also runs a round after every n requests it serves (0: off)', 'CORREIO_SERVER_CLOCK_SYNC_EVERY').argParser(parseNonNegativeInt).default(1_000))
    .addOption(envOption('--clock-max-deviation <ms>', 'clocks further than this from the median are outliers, left out of the average', 'CORREIO_SERVER_CLOCK_MAX_DEVIATION').argParser(parseDurationMs).default(10_000))
    .addOption(envOption('--clock-max-rtt <ms>', 'poll replies with a longer round trip do not vote (an adjustment is off by at most half the round trip)', 'CORREIO_SERVER_CLOCK_MAX_RTT').argParser(parseDurationMs).default(100))
    .addOption(envOption('--clock-round-timeout <ms>', 'how long a round waits for poll replies', 'CORREIO_SERVER_CLOCK_ROUND_TIMEOUT').argParser(parseDurationMs).default(2_000))
    .addOption(envOption('--clock-skew-ms <ms>', 'TESTING AID: start this server\'s clock this far off the system clock (negative: behind)', 'CORREIO_SERVER_CLOCK_SKEW_MS').argParser(parseSkewMs).default(0))
    .addOption(envOption('--clock-drift-ppm <ppm>', 'TESTING AID: make this server\'s clock gain (negative: lose) this many parts per million', 'CORREIO_SERVER_CLOCK_DRIFT_PPM').argParser(parseDriftPpm).default(0));
}

/** The cluster options from the parsed flags (`command.opts()`). */
export function clusterOptionsFromCommandLine(opts: object): ClusterCommandLine {
  const raw = opts as RawClusterOptions;
  return {
    ref: raw.ref === false ? false : { refService: raw.ref, heartbeatIntervalMs: raw.refHeartbeat, refMisses: raw.refMisses, electionTimeoutMs: raw.electionTimeout },
    clockSync: {
      intervalMs: raw.clockSyncInterval,
      everyMessages: raw.clockSyncEvery,
      maxDeviationMs: raw.clockMaxDeviation,
      maxRttMs: raw.clockMaxRtt,
      roundTimeoutMs: raw.clockRoundTimeout,
    },
    clockError: { skewMs: raw.clockSkewMs, driftPpm: raw.clockDriftPpm },
  };
}

function parseRefService(value: string): string | false {
  const service = value.trim();
  if (['off', 'none', 'false'].includes(service.toLowerCase())) return false;
  // A broker service name (FRAMES.md §1): printable ASCII, no spaces.
  if (!/^[\x21-\x7e]{1,255}$/.test(service)) throw new InvalidArgumentError('expected a broker service name such as ref, or "off".');
  return service;
}

function parseOptionalDurationMs(value: string): number {
  return /^\s*0+\s*(ms|s|m)?\s*$/.test(value) ? 0 : parseDurationMs(value);
}

function parseSkewMs(value: string): number {
  const match = /^\s*([+-]?\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(value);
  if (!match) throw new InvalidArgumentError('expected a signed duration such as -90000, +2m or -1.5s.');
  const factor = match[2] === 's' ? 1_000 : match[2] === 'm' ? 60_000 : 1;
  const ms = Math.round(Number(match[1]) * factor);
  if (!Number.isSafeInteger(ms) || Math.abs(ms) > 365 * 24 * 3_600_000) throw new InvalidArgumentError('a clock skew is at most a year either way.');
  return ms;
}

function parseDriftPpm(value: string): number {
  const ppm = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(ppm) || Math.abs(ppm) >= 1_000_000) throw new InvalidArgumentError('expected parts per million between -999999 and 999999, such as 100 or -250.');
  return ppm;
}
