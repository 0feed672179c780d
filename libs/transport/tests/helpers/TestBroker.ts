// A minimal MDP/0.2 (RFC 18) broker for tests, written against raw zeromq so the client and
// worker under test are checked against an independent implementation, not against themselves.
import * as zmq from 'zeromq';

const MDPC = Buffer.from('MDPC02');
const MDPW = Buffer.from('MDPW02');
const cmd = (code: number): Buffer => Buffer.of(code);
const identityKey = (identity: Buffer): string => identity.toString('hex');

interface QueuedRequest {
  readonly client: Buffer;
  readonly body: Buffer[];
}

interface WorkerEntry {
  readonly id: Buffer;
  readonly service: string;
  expiry: number;
  busy: QueuedRequest | undefined;
}

export interface TestBrokerOptions {
  readonly heartbeatInterval?: number;
  readonly liveness?: number;
  readonly curveSecretKey?: string;
  readonly context?: zmq.Context;
}

export class TestBroker {
  readonly endpoint: string;
  /** Every READY seen, by service (counts re-registrations). */
  readonly readies: string[] = [];
  /** Client requests received. */
  requests = 0;
  /** Protocol breaches seen from workers (should stay empty). */
  readonly violations: string[] = [];
  readonly #router: zmq.Router;
  readonly #workers = new Map<string, WorkerEntry>();
  readonly #waiting = new Map<string, string[]>();
  readonly #queues = new Map<string, QueuedRequest[]>();
  readonly #interval: number;
  readonly #liveness: number;
  readonly #timer: NodeJS.Timeout;
  #sending: Promise<void> = Promise.resolve();
  readonly #loop: Promise<void>;

  private constructor(router: zmq.Router, endpoint: string, options: TestBrokerOptions) {
    this.#router = router;
    this.endpoint = endpoint;
    this.#interval = options.heartbeatInterval ?? 2500;
    this.#liveness = options.liveness ?? 3;
    this.#timer = setInterval(() => this.#heartbeat(), this.#interval);
    this.#loop = this.#run();
  }

  static async start(address: string, options: TestBrokerOptions = {}): Promise<TestBroker> {
    const router = new zmq.Router({
      linger: 0,
      ...(options.context ? { context: options.context } : {}),
      ...(options.curveSecretKey ? { curveServer: true, curveSecretKey: options.curveSecretKey } : {}),
    });
    await router.bind(address);
    return new TestBroker(router, router.lastEndpoint ?? address, options);
  }

  /** Registered workers of a service. */
  workerCount(service: string): number {
    return [...this.#workers.values()].filter((worker) => worker.service === service).length;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#router.close();
    await this.#loop;
  }

  #send(frames: (Buffer | string)[]): void {
    this.#sending = this.#sending.then(() => this.#router.send(frames)).catch(() => undefined);
  }

  async #run(): Promise<void> {
    try {
      for await (const [sender, header, ...rest] of this.#router) {
        if (!sender || !header) continue;
        if (header.equals(MDPC)) this.#onClient(sender, rest);
        else if (header.equals(MDPW)) this.#onWorker(sender, rest);
      }
    } catch {
      // closed
    }
  }

  #onClient(client: Buffer, [command, service, ...body]: Buffer[]): void {
    if (command?.[0] !== 0x01 || !service || body.length === 0) return;
    this.requests += 1;
    const name = service.toString();
    if (name === 'mmi.service') {
      const known = this.workerCount(body[0]!.toString()) > 0;
      this.#send([client, MDPC, cmd(0x03), service, known ? '200' : '404']);
      return;
    }
    const queue = this.#queues.get(name) ?? [];
    queue.push({ client, body });
    this.#queues.set(name, queue);
    this.#dispatch(name);
  }

  #onWorker(sender: Buffer, [command, ...rest]: Buffer[]): void {
    const key = identityKey(sender);
    const worker = this.#workers.get(key);
    const code = command?.[0];
    if (code === 0x01) {
      if (worker) {
        this.violations.push(`second READY from ${key}`);
        return this.#drop(key, true);
      }
      const service = rest[0]!.toString();
      this.readies.push(service);
      this.#workers.set(key, { id: sender, service, expiry: this.#expiry(), busy: undefined });
      this.#waitingOf(service).push(key);
      this.#dispatch(service);
      return;
    }
    if (!worker) {
      // RFC 18: a worker the broker does not know must start over.
      if (code !== 0x06) this.#send([sender, MDPW, cmd(0x06)]);
      return;
    }
    worker.expiry = this.#expiry();
    if (code === 0x03 || code === 0x04) {
      const [client, , ...body] = rest;
      this.#send([client!, MDPC, cmd(code === 0x03 ? 0x02 : 0x03), worker.service, ...body]);
      if (code === 0x04) {
        if (!worker.busy) this.violations.push(`FINAL from idle worker ${key}`);
        worker.busy = undefined;
        this.#waitingOf(worker.service).push(key);
        this.#dispatch(worker.service);
      }
    } else if (code === 0x06) {
      this.#drop(key, false);
    }
  }

  #dispatch(service: string): void {
    const waiting = this.#waitingOf(service);
    const queue = this.#queues.get(service) ?? [];
    while (waiting.length > 0 && queue.length > 0) {
      const worker = this.#workers.get(waiting.shift()!);
      if (!worker) continue;
      const request = queue.shift()!;
      if (worker.busy) this.violations.push(`dispatch to busy worker ${identityKey(worker.id)}`);
      worker.busy = request;
      this.#send([worker.id, MDPW, cmd(0x02), request.client, Buffer.alloc(0), ...request.body]);
    }
  }

  #drop(key: string, sendDisconnect: boolean): void {
    const worker = this.#workers.get(key);
    if (!worker) return;
    this.#workers.delete(key);
    const waiting = this.#waitingOf(worker.service);
    const index = waiting.indexOf(key);
    if (index >= 0) waiting.splice(index, 1);
    if (worker.busy) {
      // The request the worker held goes back to the front of the queue for another worker.
      const queue = this.#queues.get(worker.service) ?? [];
      queue.unshift(worker.busy);
      this.#queues.set(worker.service, queue);
      this.#dispatch(worker.service);
    }
    if (sendDisconnect) this.#send([worker.id, MDPW, cmd(0x06)]);
  }

  #heartbeat(): void {
    const now = Date.now();
    // FRAMES.md §1.6: heartbeats go to every worker, busy or idle.
    for (const [key, worker] of this.#workers) {
      if (worker.expiry < now) this.#drop(key, false);
      else this.#send([worker.id, MDPW, cmd(0x05)]);
    }
  }

  #expiry(): number {
    return Date.now() + this.#interval * this.#liveness;
  }

  #waitingOf(service: string): string[] {
    let waiting = this.#waiting.get(service);
    if (!waiting) this.#waiting.set(service, (waiting = []));
    return waiting;
  }
}
