import { Command, InvalidArgumentError, addCommonOptions, addCurveServerOptions, curveServerKey, envOption, parseEndpoint, parseNonNegativeInt, parsePositiveInt } from '@correio/observability';
import { DEFAULT_MAX_SUBSCRIPTIONS, MAX_SUBSCRIPTION_MESSAGE_BYTES } from '@correio/transport';
import type { StartProxyOptions } from './startProxy.js';

export interface ProxyCommandLine {
  readonly options: StartProxyOptions;
  readonly logLevel: string;
}

interface RawOptions {
  publishers: string;
  subscribers: string;
  mode: 'native' | 'metered';
  upstream: 'subscriptions' | 'all';
  sendHwm: number;
  receiveHwm: number;
  maxMessageSize: number;
  maxSubscriptionSize: number;
  maxSubscriptions: number;
  logLevel: string;
  httpPort?: number;
  httpHost: string;
}

/** The `correio-proxy` command line; every flag also reads a CORREIO_PROXY_* variable. */
export function proxyCommand(): Command {
  const command = new Command('correio-proxy')
    .description(
      'XSUB/XPUB pub/sub proxy for Correio: publishers connect PUB sockets to --publishers, subscribers connect SUB sockets to --subscribers. ' +
        'Prints "proxy ready publishers=… subscribers=… mode=…" on stdout when it serves.',
    )
    .addOption(envOption('--publishers <endpoint>', 'where publishers connect (the XSUB side)', 'CORREIO_PROXY_PUBLISHERS').argParser(parseEndpoint).default('tcp://127.0.0.1:5570'))
    .addOption(envOption('--subscribers <endpoint>', 'where subscribers connect (the XPUB side)', 'CORREIO_PROXY_SUBSCRIBERS').argParser(parseEndpoint).default('tcp://127.0.0.1:5571'))
    .addOption(
      envOption('--mode <mode>', 'native: libzmq forwards, fastest, no per-message metrics; metered: counts messages, bytes and subscriptions per topic', 'CORREIO_PROXY_MODE')
        .choices(['native', 'metered'])
        .default('native'),
    )
    .addOption(
      envOption(
        '--upstream <what>',
        'subscriptions: pass subscribers\' topics on, publishers filter at the source; all: subscribe publishers to everything and filter here, so no subscriber can grow a publisher',
        'CORREIO_PROXY_UPSTREAM',
      )
        .choices(['subscriptions', 'all'])
        .default('subscriptions'),
    )
    .addOption(envOption('--send-hwm <n>', 'messages queued per subscriber before it loses messages', 'CORREIO_PROXY_SEND_HWM').argParser(parseNonNegativeInt).default(10_000))
    .addOption(envOption('--receive-hwm <n>', 'messages queued per publisher on the way in', 'CORREIO_PROXY_RECEIVE_HWM').argParser(parseNonNegativeInt).default(10_000))
    .addOption(envOption('--max-message-size <bytes>', 'largest frame from a publisher; larger ones disconnect their sender', 'CORREIO_PROXY_MAX_MESSAGE_SIZE').argParser(parsePositiveInt).default(1_048_576))
    .addOption(
      envOption('--max-subscription-size <bytes>', 'largest message from a subscriber (at least 257: one byte and a 255-byte topic); larger ones disconnect their sender', 'CORREIO_PROXY_MAX_SUBSCRIPTION_SIZE')
        .argParser(parseSubscriptionSize)
        .default(MAX_SUBSCRIPTION_MESSAGE_BYTES),
    )
    .addOption(
      envOption('--max-subscriptions <n>', 'metered mode: distinct topics passed on to the publishers at a time; further subscriptions are refused', 'CORREIO_PROXY_MAX_SUBSCRIPTIONS')
        .argParser(parsePositiveInt)
        .default(DEFAULT_MAX_SUBSCRIPTIONS),
    );
  return addCommonOptions(addCurveServerOptions(command, 'CORREIO_PROXY'));
}

export function parseProxyCommandLine(argv: readonly string[], command = proxyCommand()): ProxyCommandLine {
  command.parse([...argv]);
  const raw = command.opts<RawOptions>();
  const curve = curveServerKey(command);
  return {
    logLevel: raw.logLevel,
    options: {
      frontend: raw.publishers,
      backend: raw.subscribers,
      mode: raw.mode,
      upstream: raw.upstream,
      sendHighWaterMark: raw.sendHwm,
      receiveHighWaterMark: raw.receiveHwm,
      maxMessageSize: raw.maxMessageSize,
      maxSubscriptionSize: raw.maxSubscriptionSize,
      maxSubscriptions: raw.maxSubscriptions,
      ...(curve !== undefined ? { curve: { server: true, ...curve } } : {}),
      ...(raw.httpPort !== undefined ? { http: { port: raw.httpPort, host: raw.httpHost } } : {}),
    },
  };
}

function parseSubscriptionSize(text: string): number {
  const bytes = parsePositiveInt(text);
  if (bytes < 257) throw new InvalidArgumentError('must be at least 257 (one byte and a 255-byte topic)');
  return bytes;
}
