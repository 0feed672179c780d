// A scripted stand-in for the reference server, on a real broker: the discovery library is tested
// against the protocol without depending on the app. The test decides what it answers and when it
// is down (its worker stopped: requests then time out at the client).
import type { AnyEnvelope, RefHeartbeatRequest, RefMembership, RefRegisterRequest, RefServersReply } from '@correio/protocol';
import { Publisher, Worker } from '@correio/transport';

export class FakeRef {
  readonly ranks = new Map<string, number>();
  readonly alive = new Map<string, boolean>();
  readonly endpoints = new Map<string, string>();
  readonly heartbeats: { server: string; rank: number }[] = [];
  /** ref.servers.request served. */
  lists = 0;
  /** Servers whose heartbeats are answered known: false. */
  readonly forgotten = new Set<string>();
  coordinator: string | undefined;
  readonly #broker: string;
  readonly #service: string;
  readonly #publisher: Publisher;
  #worker: Worker | undefined;

  constructor(broker: string, publishEndpoint: string, service = 'ref') {
    this.#broker = broker;
    this.#service = service;
    this.#publisher = new Publisher({ from: 'fake-ref' });
    this.#publisher.connect(publishEndpoint);
  }

  up(): this {
    this.#worker ??= new Worker({ endpoint: this.#broker, service: this.#service, handler: (request) => this.#serve(request), from: 'fake-ref', heartbeatInterval: 250 }).start();
    return this;
  }

  async down(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.stop({ drainTimeout: 0 });
  }

  publish(event: RefMembership): void {
    this.alive.set(event.server, event.state === 'up');
    this.#publisher.publish('ref/membership/', 'ref.membership', event);
  }

  async close(): Promise<void> {
    await this.down();
    await this.#publisher.close({ flushTimeout: 100 });
  }

  #serve(request: AnyEnvelope): object {
    switch (request.type) {
      case 'ref.register.request': {
        const { server, endpoint } = request.body as RefRegisterRequest;
        if (!this.ranks.has(server)) this.ranks.set(server, Math.max(0, ...this.ranks.values()) + 1);
        if (endpoint) this.endpoints.set(server, endpoint);
        this.forgotten.delete(server);
        this.publish({ server, rank: this.ranks.get(server)!, state: 'up', at: Date.now() }); // as the real one does
        return { server, rank: this.ranks.get(server)! };
      }
      case 'ref.heartbeat.request': {
        const { server, rank } = request.body as RefHeartbeatRequest;
        this.heartbeats.push({ server, rank });
        const known = this.ranks.get(server) === rank && !this.forgotten.has(server);
        return { alive: known, known };
      }
      case 'ref.servers.request': {
        this.lists += 1;
        const servers: RefServersReply['servers'] = [...this.ranks]
          .sort((a, b) => a[1] - b[1])
          .map(([server, rank]) => ({ server, rank, alive: this.alive.get(server) ?? false, last_heartbeat: Date.now(), ...(this.endpoints.has(server) ? { endpoint: this.endpoints.get(server)! } : {}) }));
        return { servers, ...(this.coordinator ? { coordinator: this.coordinator } : {}) };
      }
      default:
        throw new Error(`unexpected ${request.type}`);
    }
  }
}
