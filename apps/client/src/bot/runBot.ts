import { CorreioError, UnavailableError } from '@correio/codec';
import { backoffDelay } from '@correio/transport';
import type { CurveClientKeySet } from '@correio/observability';
import type { Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { brokerDownMessage, describeFailure, proxyDownMessage, type Endpoints } from '../failures.js';
import { isChannelName, isUserName } from '../names.js';
import type { BotReport, ReceivedStats, SentStats } from './BotReport.js';
import type { CallOptions } from '../ChatClient.js';
import { BotUser } from './BotUser.js';
import { LatencyRecorder } from './LatencyRecorder.js';
import { pace, sleep, type StopReason } from './pace.js';
import { chatText } from './texts.js';

export interface BotOptions {
  readonly broker: string;
  /** The proxy's subscriber (XPUB) endpoint. */
  readonly proxy: string;
  /** CURVE keys of every bot's broker and proxy sockets; plaintext when absent. */
  readonly curve?: CurveClientKeySet;
  /** Broker service for chat requests. Default `chat`. */
  readonly service?: string;
  /** Bot users, 1–250 (each has two sockets). */
  readonly users: number;
  /** Requests per second, all bots together. */
  readonly rate: number;
  /** Stop after this long (ms). With neither this nor `messages`, 10 s. */
  readonly durationMs?: number;
  /** Stop after this many requests. */
  readonly messages?: number;
  /** Channels the bots share. Default 3. */
  readonly channels?: number;
  /** Share of requests that are direct messages, 0–1. Default 0.2 (0 with one user). */
  readonly directRatio?: number;
  /** User names are `<userPrefix>-<run>-<n>`. Default `bot`. */
  readonly userPrefix?: string;
  /** Channel names are `<channelPrefix>-<n>`. Default `room`. */
  readonly channelPrefix?: string;
  /** The run tag in user names; default 4 random characters. */
  readonly run?: string;
  /** Per-attempt request time-out, ms. Default 3000. */
  readonly timeout?: number;
  /** Retries per request, same id. Default 3. */
  readonly retries?: number;
  /** Requests in flight at most; the pace slows down rather than exceed it. Default 1000. */
  readonly maxInFlight?: number;
  /** How long setup may wait for the broker, the proxy and the chat service. Default 30 s. */
  readonly setupTimeoutMs?: number;
  /** Pause after subscribing, for subscriptions to reach the publishers through the proxy. Default 500 ms. */
  readonly warmupMs?: number;
  /** After the last request, how long to wait for messages still in transit. Default 1000 ms. */
  readonly settleMs?: number;
  /** After a stop signal, how long to wait for requests in flight before abandoning them. Default 3000 ms. */
  readonly drainMs?: number;
  /** Stops the run early; it still reports. */
  readonly signal?: AbortSignal;
  /** Human-readable milestones (setup, waiting, stopping). */
  readonly onPhase?: (message: string) => void;
  /** Counts so far, every `progressIntervalMs` during traffic. */
  readonly onProgress?: (progress: BotProgress) => void;
  readonly progressIntervalMs?: number;
  readonly logger?: Logger;
}

export interface BotProgress {
  readonly elapsedMs: number;
  readonly sent: number;
  readonly acked: number;
  readonly failed: number;
  readonly inFlight: number;
  readonly received: number;
}

/** Registrations and logins in flight at once during setup: each costs the server a slow password hash. */
const PASSWORD_CALLS_AT_ONCE = 3;

/** The largest number of bot users: two sockets each, within ZeroMQ's default 1023 per context. */
export const MAX_BOT_USERS = 250;

/** Thrown when setup cannot complete: the broker or the chat service never answered. */
export class BotSetupError extends Error {
  override name = 'BotSetupError';
}

class Sends {
  sent = 0;
  acked = 0;
  failed = 0;
  readonly errors: Record<string, number> = {};
  readonly latency = new LatencyRecorder();

  stats(): SentStats {
    const latencyMs = this.latency.summary();
    return { sent: this.sent, acked: this.acked, failed: this.failed, errors: { ...this.errors }, ...(latencyMs ? { latencyMs } : {}) };
  }
}

/**
 * Realistic chat traffic: `users` bots log in, create and join channels, subscribe to them and to
 * their own direct messages, then publish and send direct messages at `rate` per second in all,
 * until the duration or message count is reached or the signal aborts; then they wait for what is
 * still in flight and in transit, and the run reports what was sent, acknowledged, failed and
 * received, with latency percentiles. Always bounded.
 *
 * If the broker is not up yet, setup waits for it (up to `setupTimeoutMs`), retrying with backoff.
 */
export async function runBot(options: BotOptions): Promise<BotReport> {
  const settings = resolve(options);
  const { signal, onPhase = () => undefined } = options;
  const endpoints: Endpoints = { broker: options.broker, proxy: options.proxy, service: settings.service };
  const runUsers = Array.from({ length: options.users }, (_, i) => `${settings.userPrefix}-${settings.run}-${i + 1}`);
  const channelNames = Array.from({ length: settings.channels }, (_, i) => `${settings.channelPrefix}-${i + 1}`);
  const invalid = [...runUsers.filter((name) => !isUserName(name)), ...channelNames.filter((name) => !isChannelName(name))];
  if (invalid.length > 0) throw new RangeError(`invalid generated names (shorten the prefixes): ${invalid.slice(0, 3).join(', ')}`);

  const userSet = new Set(runUsers);
  const delivery = { publication: new LatencyRecorder(), direct: new LatencyRecorder() };
  const bots = runUsers.map(
    (name, i) =>
      new BotUser(
        name,
        channelsOf(i, channelNames),
        {
          broker: options.broker,
          proxy: options.proxy,
          service: settings.service,
          from: `bot-${settings.run}-${i + 1}`,
          timeout: settings.timeout,
          retries: settings.retries,
          ...(options.curve ? { curve: options.curve } : {}),
          ...(options.logger ? { logger: options.logger } : {}),
        },
        userSet,
        delivery,
      ),
  );
  const members = new Map(channelNames.map((channel) => [channel, bots.filter((bot) => bot.channels.includes(channel)).length]));
  const warnings: string[] = [];
  const sends = { publish: new Sends(), direct: new Sends() };
  const expected = { publication: 0, direct: 0 };
  const inFlight = new Set<Promise<void>>();
  const abandon = new AbortController();
  // Every request in flight listens to it: as many as maxInFlight.
  setMaxListeners(0, abandon.signal);
  let setupRetries = 0;
  let loggedIn = 0;
  let traffic = { iterations: 0, stoppedBy: 'signal' as StopReason, elapsedMs: 0 };
  const setupStarted = performance.now();
  let setupMs = 0;

  try {
    // --- setup: broker, logins, channels, subscriptions --------------------------------------
    const deadline = Date.now() + settings.setupTimeoutMs;
    if (!(await bots[0]!.client.waitForBroker(200, signal))) {
      if (!signal?.aborted) onPhase(`waiting for the broker at ${options.broker} (up to ${Math.round(settings.setupTimeoutMs / 1000)} s)…`);
      const up = await Promise.all(bots.map((bot) => bot.client.waitForBroker(Math.max(0, deadline - Date.now()), signal)));
      if (signal?.aborted) return await finish('signal');
      if (!up.every(Boolean)) throw new BotSetupError(brokerDownMessage(options.broker));
      onPhase(`connected to the broker at ${options.broker}`);
    }
    const retry = <T>(what: () => Promise<T>): Promise<T> =>
      retryUntil(what, deadline, signal, (failure) => {
        if (setupRetries++ === 0) onPhase(`setup is retrying: ${describeFailure(failure, endpoints)}`);
      });
    // A registration or a login costs the server a deliberately slow password hash (ChatClient
    // gives it longer): a few at a time, retried by `retry` only (a transport retry would hash again).
    const passwordCall = { retries: 0 };
    await eachLimited(bots, PASSWORD_CALLS_AT_ONCE, async (bot) => {
      await retry(() => registerOnce(bot, passwordCall));
      await retry(() => bot.client.login(bot.name, { password: bot.password, ...passwordCall }));
      loggedIn += 1;
    });
    await Promise.all(
      bots.map(async (bot) => {
        for (const channel of bot.channels) {
          await retry(() => bot.client.createChannel(channel));
          bot.client.subscribeChannel(channel);
        }
      }),
    );
    const proxies = await Promise.all(bots.map((bot) => bot.client.waitForProxy(Math.max(1, deadline - Date.now()), signal)));
    if (signal?.aborted) return await finish('signal');
    if (!proxies.every(Boolean)) {
      const warning = proxyDownMessage(options.proxy);
      warnings.push(`${warning} (nothing can be received)`);
      onPhase(warning);
    }
    if (!(await sleep(settings.warmupMs, signal))) return await finish('signal');
    setupMs = performance.now() - setupStarted;
    onPhase(
      `${bots.length} user(s) in ${channelNames.length} channel(s); sending ${options.rate} msg/s ` +
        (options.messages !== undefined ? `for ${options.messages} message(s)` : `for ${(settings.durationMs! / 1000).toFixed(1)} s`),
    );

    // --- traffic --------------------------------------------------------------------------------
    const progress = startProgress();
    try {
      traffic = await pace(
        { rate: options.rate, ...(options.messages !== undefined ? { limit: options.messages } : {}), ...(settings.durationMs !== undefined ? { durationMs: settings.durationMs } : {}), ...(signal ? { signal } : {}) },
        async () => {
          while (inFlight.size >= settings.maxInFlight) await Promise.race(inFlight);
          const sending = sendOne();
          inFlight.add(sending);
          void sending.finally(() => inFlight.delete(sending));
        },
      );
    } finally {
      clearInterval(progress);
    }
    return await finish(traffic.stoppedBy);
  } catch (error) {
    if (error instanceof BotSetupError) throw error;
    if (signal?.aborted) return await finish('signal');
    // Setup failed for good: say what to do about it.
    if (setupMs === 0) throw new BotSetupError(describeFailure(error, endpoints), { cause: error });
    throw error;
  } finally {
    await Promise.all(bots.map((bot) => bot.client.close()));
  }

  async function finish(stoppedBy: StopReason): Promise<BotReport> {
    if (setupMs === 0) setupMs = performance.now() - setupStarted;
    if (inFlight.size > 0) {
      onPhase(`waiting for ${inFlight.size} request(s) in flight…`);
      const drained = await Promise.race([Promise.all(inFlight).then(() => true), sleep(stoppedBy === 'signal' ? settings.drainMs : settings.timeout * (settings.retries + 1) + 5_000)]);
      if (drained !== true) {
        warnings.push(`${inFlight.size} request(s) were abandoned in flight when the bot stopped`);
        abandon.abort(new AbandonedError());
        await Promise.all(inFlight);
      }
    }
    if (traffic.iterations > 0) await sleep(stoppedBy === 'signal' ? Math.min(settings.settleMs, 500) : settings.settleMs);
    if (stoppedBy === 'signal' && traffic.iterations === 0) warnings.push('stopped before any traffic was sent');
    return report(stoppedBy);
  }

  function sendOne(): Promise<void> {
    const bot = bots[Math.floor(Math.random() * bots.length)]!;
    const direct = bots.length > 1 && Math.random() < settings.directRatio;
    const kind = direct ? sends.direct : sends.publish;
    kind.sent += 1;
    const started = performance.now();
    const call: Promise<unknown> = direct
      ? bot.client.direct(otherThan(bot, bots).name, chatText(), { signal: abandon.signal })
      : (() => {
          const channel = bot.channels[Math.floor(Math.random() * bot.channels.length)]!;
          return bot.client.publish(channel, chatText(), { signal: abandon.signal }).then(() => {
            expected.publication += members.get(channel) ?? 0;
          });
        })();
    return call.then(
      () => {
        kind.acked += 1;
        kind.latency.record(performance.now() - started);
        if (direct) expected.direct += 1;
      },
      (error: unknown) => {
        kind.failed += 1;
        const code = error instanceof AbandonedError ? 'ABORTED' : CorreioError.from(error).code;
        kind.errors[code] = (kind.errors[code] ?? 0) + 1;
      },
    );
  }

  function startProgress(): NodeJS.Timeout | undefined {
    const onProgress = options.onProgress;
    if (!onProgress) return undefined;
    const started = performance.now();
    const timer = setInterval(() => {
      onProgress({
        elapsedMs: performance.now() - started,
        sent: sends.publish.sent + sends.direct.sent,
        acked: sends.publish.acked + sends.direct.acked,
        failed: sends.publish.failed + sends.direct.failed,
        inFlight: inFlight.size,
        received: bots.reduce((sum, bot) => sum + bot.receipts.publication + bot.receipts.direct, 0),
      });
    }, options.progressIntervalMs ?? 5_000);
    timer.unref();
    return timer;
  }

  function report(stoppedBy: StopReason): BotReport {
    const received = (kind: 'publication' | 'direct'): ReceivedStats => {
      const latencyMs = delivery[kind].summary();
      return {
        total: bots.reduce((sum, bot) => sum + bot.receipts[kind], 0),
        fromRun: bots.reduce((sum, bot) => sum + (kind === 'publication' ? bot.receipts.publicationFromRun : bot.receipts.directFromRun), 0),
        expected: expected[kind],
        ...(latencyMs ? { latencyMs } : {}),
      };
    };
    const publish = sends.publish.stats();
    const direct = sends.direct.stats();
    const sent = publish.sent + direct.sent;
    return {
      run: settings.run,
      users: bots.length,
      channels: channelNames,
      stoppedBy,
      durationMs: traffic.elapsedMs,
      targetRate: options.rate,
      achievedRate: traffic.elapsedMs > 0 ? (sent * 1000) / traffic.elapsedMs : 0,
      setup: { durationMs: setupMs, retries: setupRetries, loggedIn },
      sent: { publish, direct, total: { sent, acked: publish.acked + direct.acked, failed: publish.failed + direct.failed } },
      received: { publication: received('publication'), direct: received('direct') },
      gaps: { count: bots.reduce((sum, bot) => sum + bot.receipts.gaps, 0), missed: bots.reduce((sum, bot) => sum + bot.receipts.missed, 0) },
      warnings,
    };
  }
}

/**
 * Registers a bot's account with its generated password. Every attempt has the same request id,
 * so a retry after a lost reply is the same registration; a CONFLICT after an earlier attempt
 * means one of them took, and the login that follows proves whose password holds.
 */
async function registerOnce(bot: BotUser, options: CallOptions): Promise<void> {
  try {
    await bot.client.register(bot.name, bot.password, { ...options, id: bot.registrationId });
  } catch (error) {
    const first = bot.failedRegistrations++ === 0;
    if (first || CorreioError.from(error).code !== 'CONFLICT') throw error;
  }
}

/** Runs `work` on every item, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A request given up when the bot stopped with it still in flight. */
class AbandonedError extends Error {
  override name = 'AbandonedError';
}

function resolve(options: BotOptions) {
  if (!Number.isSafeInteger(options.users) || options.users < 1 || options.users > MAX_BOT_USERS) throw new RangeError(`users must be an integer from 1 to ${MAX_BOT_USERS}`);
  if (!(options.rate > 0) || !Number.isFinite(options.rate)) throw new RangeError('rate must be a positive number of messages per second');
  const channels = options.channels ?? 3;
  if (!Number.isSafeInteger(channels) || channels < 1 || channels > 1000) throw new RangeError('channels must be an integer from 1 to 1000');
  const directRatio = options.directRatio ?? 0.2;
  if (!(directRatio >= 0 && directRatio <= 1)) throw new RangeError('directRatio must be between 0 and 1');
  if (options.messages !== undefined && (!Number.isSafeInteger(options.messages) || options.messages < 1)) throw new RangeError('messages must be a positive integer');
  return {
    service: options.service ?? 'chat',
    channels,
    directRatio,
    userPrefix: options.userPrefix ?? 'bot',
    channelPrefix: options.channelPrefix ?? 'room',
    run: options.run ?? randomBytes(3).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 4).toLowerCase(),
    durationMs: options.durationMs ?? (options.messages === undefined ? 10_000 : undefined),
    timeout: options.timeout ?? 3_000,
    retries: options.retries ?? 3,
    maxInFlight: options.maxInFlight ?? 1_000,
    setupTimeoutMs: options.setupTimeoutMs ?? 30_000,
    warmupMs: options.warmupMs ?? 500,
    settleMs: options.settleMs ?? 1_000,
    drainMs: options.drainMs ?? 3_000,
  };
}

/** Bot i's channels: its home channel (spreading the bots evenly) and up to two more at random. */
function channelsOf(index: number, channels: readonly string[]): string[] {
  const chosen = new Set([channels[index % channels.length]!]);
  const extra = Math.floor(Math.random() * Math.min(3, channels.length));
  while (chosen.size < 1 + extra) chosen.add(channels[Math.floor(Math.random() * channels.length)]!);
  return [...chosen];
}

function otherThan(bot: BotUser, bots: readonly BotUser[]): BotUser {
  for (;;) {
    const other = bots[Math.floor(Math.random() * bots.length)]!;
    if (other !== bot) return other;
  }
}

/**
 * Runs `attempt` until it succeeds, retrying with backoff while failures can pass (the broker, the
 * chat server or a worker not up yet: UNAVAILABLE, TIMEOUT, OVERLOADED, UNKNOWN_SERVICE) and the
 * deadline allows. Failures of the request itself (a bad name, say) are thrown at once.
 */
async function retryUntil<T>(attempt: () => Promise<T>, deadline: number, signal: AbortSignal | undefined, onRetry: (failure: CorreioError) => void): Promise<T> {
  for (let retry = 1; ; retry += 1) {
    try {
      return await attempt();
    } catch (error) {
      const failure = CorreioError.from(error);
      const passing = failure.retryable || failure.code === 'UNKNOWN_SERVICE';
      const wait = backoffDelay(retry, { initialMs: 250, maxMs: 2_000 });
      if (!passing || signal?.aborted || Date.now() + wait > deadline) throw failure;
      onRetry(failure);
      if (!(await sleep(wait, signal))) throw new UnavailableError('stopped');
    }
  }
}
