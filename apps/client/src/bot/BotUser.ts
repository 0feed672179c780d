import { randomBytes } from 'node:crypto';
import { ChatClient, type ChatClientOptions } from '../ChatClient.js';
import type { LatencyRecorder } from './LatencyRecorder.js';

/** What one bot user received while subscribed. */
export interface BotReceipts {
  publication: number;
  publicationFromRun: number;
  direct: number;
  directFromRun: number;
  gaps: number;
  missed: number;
}

/** Delivery latency recorders, shared by the bots of a run. */
export interface DeliveryRecorders {
  readonly publication: LatencyRecorder;
  readonly direct: LatencyRecorder;
}

/**
 * One simulated person: its own ChatClient (own sockets, own Lamport clock), the channels it is
 * in, and counts of what it received live, telling this run's traffic (by sender name) from the
 * rest.
 */
export class BotUser {
  readonly name: string;
  readonly channels: readonly string[];
  /** A generated password: the account is this run's alone. */
  readonly password = randomBytes(18).toString('base64url');
  /** The one request id of every attempt to register the account. */
  readonly registrationId = `register-${randomBytes(12).toString('base64url')}`;
  /** Attempts to register that failed (a CONFLICT after one of them may be that attempt's own success). */
  failedRegistrations = 0;
  readonly client: ChatClient;
  readonly receipts: BotReceipts = { publication: 0, publicationFromRun: 0, direct: 0, directFromRun: 0, gaps: 0, missed: 0 };

  constructor(name: string, channels: readonly string[], clientOptions: ChatClientOptions, runUsers: ReadonlySet<string>, delivery: DeliveryRecorders) {
    this.name = name;
    this.channels = channels;
    this.client = new ChatClient(clientOptions);
    this.client.events.on('publication', ({ publication }) => {
      this.receipts.publication += 1;
      if (!runUsers.has(publication.user)) return;
      this.receipts.publicationFromRun += 1;
      delivery.publication.record(Date.now() - publication.ts);
    });
    this.client.events.on('direct', ({ message }) => {
      this.receipts.direct += 1;
      if (!runUsers.has(message.from)) return;
      this.receipts.directFromRun += 1;
      delivery.direct.record(Date.now() - message.ts);
    });
    this.client.events.on('gap', ({ missed }) => {
      this.receipts.gaps += 1;
      this.receipts.missed += missed;
    });
  }
}
