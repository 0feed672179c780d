import { Command, InvalidArgumentError, addCommonOptions, addCurveServerOptions, curveServerKey, envOption, parseEndpoint, parseNonNegativeInt, parsePositiveInt } from '@correio/observability';
import { DEFAULT_MAX_SUBSCRIPTIONS, DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION, MAX_SUBSCRIPTION_MESSAGE_BYTES, isZ85Key } from '@correio/transport';
import type { StartProxyOptions } from './startProxy.js';

export interface ProxyCommandLine {
  readonly options: StartProxyOptions;
  readonly logLevel: string;
}

interface RawOptions {
  publishers: string;
  subscribers: string;
  mode: 'native' | 'metered' | 'guarded';
  upstream: 'subscriptions' | 'all';
  sendHwm: number;
  receiveHwm: number;
  maxMessageSize: number;
  maxSubscriptionSize: number;
  maxSubscriptions: number;
  maxSubscriptionsPerConnection: number;
  curveAllow?: string[];
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
      envOption(
        '--mode <mode>',
        'native: libzmq forwards, fastest, no per-message metrics; metered: counts messages, bytes and subscriptions per topic; ' +
          'guarded: metered, with subscribers served by Correio\'s own ZMTP so subscriptions are capped per connection and in total',
        'CORREIO_PROXY_MODE',
      )
        .choices(['native', 'metered', 'guarded'])
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
      envOption(
        '--max-subscriptions <n>',
        'metered mode: distinct topics passed on to the publishers at a time; guarded mode: subscriptions held by all connections together; further subscriptions are refused',
        'CORREIO_PROXY_MAX_SUBSCRIPTIONS',
      )
        .argParser(parsePositiveInt)
        .default(DEFAULT_MAX_SUBSCRIPTIONS),
    )
    .addOption(
      envOption('--max-subscriptions-per-connection <n>', 'guarded mode: subscriptions one connection may hold; further ones are refused', 'CORREIO_PROXY_MAX_SUBSCRIPTIONS_PER_CONNECTION')
        .argParser(parsePositiveInt)
        .default(DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION),
    )
    .addOption(
      envOption('--curve-allow <keys>', 'guarded mode with CURVE: comma-separated Z85 public keys of the subscribers admitted (default: any client that knows the server key)', 'CORREIO_PROXY_CURVE_ALLOW').argParser(
        parseKeyList,
      ),
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
      maxSubscriptionsPerConnection: raw.maxSubscriptionsPerConnection,
      ...(raw.curveAllow ? { curveAllow: raw.curveAllow } : {}),
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

function parseKeyList(text: string): string[] {
  const keys = text.split(',').map((key) => key.trim()).filter((key) => key.length > 0);
  const bad = keys.find((key) => !isZ85Key(key));
  if (bad !== undefined) throw new InvalidArgumentError(`${bad} is not a 40-character Z85 key`);
  return keys;
}
