import { delay } from './backoff.js';
import { componentLogger, type Logger } from '@correio/observability';
import { ManagedSocket } from './ManagedSocket.js';
import type { TransportContext } from './SocketOptions.js';
import { TypedEvents } from './TypedEvents.js';
import { isZ85Key, z85Encode } from './z85.js';

/** Where ZeroMQ looks for the ZAP handler of a context (RFC 27). */
export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

export interface ZapAuthenticatorOptions {
  /** Z85 public keys of the CURVE clients to accept. */
  readonly allow?: Iterable<string>;
  /** Accept NULL-mechanism peers of sockets that set a ZAP domain. Default false. */
  readonly allowNull?: boolean;
  /** The context whose server sockets this handler authenticates; defaults to the process-wide one. */
  readonly context?: TransportContext;
  readonly logger?: Logger;
}

export interface ZapDecision {
  readonly domain: string;
  /** The peer's IP address (or empty for IPC). */
  readonly address: string;
  readonly mechanism: string;
  /** The client's Z85 public key (CURVE only). */
  readonly publicKey?: string;
}

export interface ZapEventMap {
  accepted: ZapDecision;
  refused: ZapDecision & { readonly reason: string };
}

export interface ZapStats {
  readonly accepted: number;
  readonly refused: number;
  /** ZAP requests that were not valid RFC 27 (answered 500 when possible). */
  readonly malformed: number;
}

const ZAP_VERSION = '1.0';

/**
 * A ZAP handler (ZeroMQ RFC 27) for one context: admits CURVE clients whose public key is on the
 * allow-list and refuses everyone else. Every refusal is an event and a warning in the log, and
 * the refused client sees a `handshakeFailed` event with reason `auth` — never a silent hang.
 * Server sockets must use the same context; only one handler can exist per context.
 */
export class ZapAuthenticator {
  readonly events = new TypedEvents<ZapEventMap>();
  readonly #socket: ManagedSocket;
  readonly #allowed = new Set<string>();
  readonly #allowNull: boolean;
  readonly #log: Logger;
  readonly #stats = { accepted: 0, refused: 0, malformed: 0 };
  #serving: Promise<void> | undefined;

  private constructor(options: ZapAuthenticatorOptions) {
    this.#log = componentLogger('zap', options.logger);
    this.#allowNull = options.allowNull ?? false;
    for (const key of options.allow ?? []) this.allow(key);
    this.#socket = new ManagedSocket('router', { linger: 0, ...(options.context ? { context: options.context } : {}), logger: this.#log });
  }

  /** Binds the handler to its context's ZAP endpoint; from then on every handshake passes through it. */
  static async start(options: ZapAuthenticatorOptions = {}): Promise<ZapAuthenticator> {
    const authenticator = new ZapAuthenticator(options);
    // libzmq releases a closed socket's endpoints asynchronously: a handler closed a moment ago
    // may still hold the address, so retry briefly before concluding another one is running.
    for (let attempt = 0; ; attempt += 1) {
      try {
        await authenticator.#socket.bind(ZAP_ENDPOINT);
        break;
      } catch (error) {
        if ((error as { code?: string }).code === 'EADDRINUSE' && attempt < 50) {
          await delay(20);
          continue;
        }
        await authenticator.#socket.close();
        throw new Error(`cannot bind the ZAP handler (is another one running on this context?): ${(error as Error).message}`, { cause: error });
      }
    }
    authenticator.#serving = authenticator.#serve();
    return authenticator;
  }

  get stats(): ZapStats {
    return { ...this.#stats };
  }

  /** Adds a client public key (Z85) to the allow-list. */
  allow(publicKey: string): void {
    if (!isZ85Key(publicKey)) throw new RangeError('a CURVE public key is 40 characters of Z85');
    this.#allowed.add(publicKey);
  }

  /** Removes a key; established connections stay up, new handshakes with it are refused. */
  revoke(publicKey: string): void {
    this.#allowed.delete(publicKey);
  }

  async close(): Promise<void> {
    if (this.#socket.closed) return;
    // Closed, not unbound: an unbind with the receive loop pending would enter libzmq from two
    // threads (docs/architecture.md, "Native aborts"). libzmq releases the endpoint a moment later;
    // start() waits for that.
    await this.#socket.close();
    await this.#serving;
  }

  async #serve(): Promise<void> {
    for await (const frames of this.#socket) {
      const reply = this.#handle(frames);
      if (reply) await this.#socket.send(reply).catch(() => undefined);
    }
  }

  /** Answers one ZAP request: [peer..., "", version, request id, domain, address, identity, mechanism, credentials...]. */
  #handle(frames: Buffer[]): (Buffer | string)[] | undefined {
    const delimiter = frames.findIndex((frame) => frame.length === 0);
    if (delimiter < 1) {
      this.#stats.malformed += 1;
      return undefined;
    }
    const route = frames.slice(0, delimiter + 1);
    const [version, requestId, domain, address, , mechanism, ...credentials] = frames.slice(delimiter + 1);
    if (version?.toString() !== ZAP_VERSION || requestId === undefined || mechanism === undefined) {
      this.#stats.malformed += 1;
      this.#log.warn('malformed ZAP request');
      return requestId === undefined ? undefined : [...route, ZAP_VERSION, requestId, '500', 'malformed ZAP request', '', ''];
    }
    const decision: { domain: string; address: string; mechanism: string; publicKey?: string } = {
      domain: domain?.toString() ?? '',
      address: address?.toString() ?? '',
      mechanism: mechanism.toString(),
    };
    let refusal: string | undefined;
    if (decision.mechanism === 'CURVE') {
      const key = credentials[0];
      if (key?.length !== 32) refusal = 'CURVE credentials without a 32-byte public key';
      else {
        decision.publicKey = z85Encode(key);
        if (!this.#allowed.has(decision.publicKey)) refusal = 'public key not on the allow-list';
      }
    } else if (decision.mechanism !== 'NULL' || !this.#allowNull) {
      refusal = `mechanism ${decision.mechanism} not allowed`;
    }
    if (refusal === undefined) {
      this.#stats.accepted += 1;
      this.events.emit('accepted', decision);
      return [...route, ZAP_VERSION, requestId, '200', 'OK', decision.publicKey ?? '', ''];
    }
    this.#stats.refused += 1;
    this.#log.warn({ ...decision, reason: refusal }, 'refused a peer');
    this.events.emit('refused', { ...decision, reason: refusal });
    return [...route, ZAP_VERSION, requestId, '400', refusal, '', ''];
  }
}
