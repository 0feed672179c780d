import { createLogger } from '@correio/observability';
import { formatReport } from './bot/BotReport.js';
import { BotSetupError, runBot } from './bot/runBot.js';
import type { BotSettings } from './cli.js';

/**
 * `correio-client bot`: runs the bot, printing progress on stderr and the report on stdout (a
 * table, or one JSON object with --json). SIGINT/SIGTERM stop it early and it still reports; a
 * second signal exits at once. Status 0 once a report was printed, 1 when setup failed.
 */
export async function runBotCommand(settings: BotSettings): Promise<number> {
  const logger = createLogger('client-bot', { level: settings.logLevel });
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) process.exit(130);
    note(`${signal}: stopping; the report follows`);
    stop.abort();
  };
  const note = (message: string): void => {
    if (!settings.quiet) process.stderr.write(`bot: ${message}\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const report = await runBot({
      broker: settings.broker,
      proxy: settings.proxySub,
      ...(settings.curve ? { curve: settings.curve } : {}),
      service: settings.service,
      users: settings.users,
      rate: settings.rate,
      ...(settings.durationMs !== undefined ? { durationMs: settings.durationMs } : {}),
      ...(settings.messages !== undefined ? { messages: settings.messages } : {}),
      channels: settings.channels,
      directRatio: settings.directRatio,
      userPrefix: settings.userPrefix,
      channelPrefix: settings.channelPrefix,
      timeout: settings.timeout,
      retries: settings.retries,
      maxInFlight: settings.maxInFlight,
      setupTimeoutMs: settings.setupTimeout,
      warmupMs: settings.warmup,
      settleMs: settings.settle,
      signal: stop.signal,
      logger,
      onPhase: note,
      onProgress: (p) => note(`${(p.elapsedMs / 1000).toFixed(0)} s: sent ${p.sent} (acked ${p.acked}, failed ${p.failed}, in flight ${p.inFlight}), received ${p.received}`),
    });
    process.stdout.write(settings.json ? `${JSON.stringify(report)}\n` : formatReport(report));
    return 0;
  } catch (error) {
    if (error instanceof BotSetupError) throw new Error(`bot setup failed: ${error.message}`);
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
