import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, addCommonOptions, envOption, parseCurveKey, parseEndpoint, parseNonNegativeInt, parsePositiveInt } from '@correio/observability';
import type { StartProxyOptions } from './startProxy.js';

export interface ProxyCommandLine {
  readonly options: StartProxyOptions;
  readonly logLevel: string;
}

interface RawOptions {
  publishers: string;
  subscribers: string;
  mode: 'native' | 'metered';
  sendHwm: number;
  receiveHwm: number;
  maxMessageSize: number;
  curveSecretKey?: string;
  curveSecretKeyFile?: string;
  zapDomain?: string;
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
    .addOption(envOption('--send-hwm <n>', 'messages queued per subscriber before it loses messages', 'CORREIO_PROXY_SEND_HWM').argParser(parseNonNegativeInt).default(10_000))
    .addOption(envOption('--receive-hwm <n>', 'messages queued per publisher on the way in', 'CORREIO_PROXY_RECEIVE_HWM').argParser(parseNonNegativeInt).default(10_000))
    .addOption(envOption('--max-message-size <bytes>', 'largest inbound frame; larger ones disconnect their sender', 'CORREIO_PROXY_MAX_MESSAGE_SIZE').argParser(parsePositiveInt).default(1_048_576))
    .addOption(envOption('--curve-secret-key <z85>', 'enable CURVE with this server secret key', 'CORREIO_PROXY_CURVE_SECRET_KEY').argParser(parseCurveKey))
    .addOption(envOption('--curve-secret-key-file <path>', 'enable CURVE with the secret key held in this file', 'CORREIO_PROXY_CURVE_SECRET_KEY_FILE'))
    .addOption(envOption('--zap-domain <domain>', 'ZAP domain for CURVE client authorisation', 'CORREIO_PROXY_ZAP_DOMAIN'));
  return addCommonOptions(command);
}

export function parseProxyCommandLine(argv: readonly string[], command = proxyCommand()): ProxyCommandLine {
  command.parse([...argv]);
  const raw = command.opts<RawOptions>();
  if (raw.curveSecretKey !== undefined && raw.curveSecretKeyFile !== undefined) {
    command.error('error: give --curve-secret-key or --curve-secret-key-file, not both');
  }
  const secretKey = raw.curveSecretKey ?? (raw.curveSecretKeyFile !== undefined ? readKeyFile(command, raw.curveSecretKeyFile) : undefined);
  return {
    logLevel: raw.logLevel,
    options: {
      frontend: raw.publishers,
      backend: raw.subscribers,
      mode: raw.mode,
      sendHighWaterMark: raw.sendHwm,
      receiveHighWaterMark: raw.receiveHwm,
      maxMessageSize: raw.maxMessageSize,
      ...(secretKey !== undefined ? { curve: { server: true, secretKey, ...(raw.zapDomain ? { zapDomain: raw.zapDomain } : {}) } } : {}),
      ...(raw.httpPort !== undefined ? { http: { port: raw.httpPort, host: raw.httpHost } } : {}),
    },
  };
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
