import * as zmq from 'zeromq';
// Before any socket: raises the default context's socket limit.
import '../socketLimit.js';
import { curveSocketOptions, type CurveServerOptions } from '../curve.js';
import type { TransportLogger } from './options.js';

export interface SeedQueueOptions {
  /** Where plain REQ clients connect (a ROUTER), such as `tcp://127.0.0.1:5559`. */
  readonly frontend: string;
  /** Where plain REP servers connect (a DEALER), such as `tcp://127.0.0.1:5560`. */
  readonly backend: string;
  /** Largest inbound frame on either side. Default 1 MiB. */
  readonly maxMessageSize?: number;
  readonly curve?: CurveServerOptions;
  readonly logger?: TransportLogger;
}

/**
 * The seed-compatible plain queue (protocol/FRAMES.md §2): REQ clients → ROUTER, DEALER → REP
 * servers, joined by libzmq's own `zmq_proxy` in a worker thread. No MDP, no heartbeats, no
 * broker-generated errors: classic pyzmq REQ/REP programs work through it unchanged.
 */
export class SeedQueue {
  readonly #proxy: zmq.Proxy<zmq.Router, zmq.Dealer>;
  readonly #options: SeedQueueOptions;
  #running: Promise<void> | undefined;
  #frontendEndpoint = '';
  #backendEndpoint = '';

  constructor(options: SeedQueueOptions) {
    this.#options = options;
    const common = {
      maxMessageSize: options.maxMessageSize ?? 1_048_576,
      linger: 1_000,
      ...(options.curve ? curveSocketOptions(options.curve) : {}),
    };
    this.#proxy = new zmq.Proxy(new zmq.Router(common), new zmq.Dealer(common));
  }

  get frontend(): string {
    return this.#frontendEndpoint;
  }

  get backend(): string {
    return this.#backendEndpoint;
  }

  async start(): Promise<void> {
    const { frontEnd, backEnd } = this.#proxy;
    try {
      await frontEnd.bind(this.#options.frontend);
      await backEnd.bind(this.#options.backend);
    } catch (error) {
      frontEnd.close();
      backEnd.close();
      throw error;
    }
    this.#frontendEndpoint = frontEnd.lastEndpoint ?? this.#options.frontend;
    this.#backendEndpoint = backEnd.lastEndpoint ?? this.#options.backend;
    this.#running = this.#proxy.run().catch((error: unknown) => {
      this.#options.logger?.error({ err: error }, 'seed queue stopped');
    });
    this.#options.logger?.info({ frontend: this.#frontendEndpoint, backend: this.#backendEndpoint }, 'seed queue listening');
  }

  /** Stops the queue; both sockets close with it. */
  async close(): Promise<void> {
    if (this.#running === undefined) {
      this.#proxy.frontEnd.close();
      this.#proxy.backEnd.close();
      return;
    }
    this.#proxy.terminate();
    await this.#running;
    this.#running = undefined;
  }
}
