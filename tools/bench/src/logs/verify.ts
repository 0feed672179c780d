// After a run, what the log service holds of each program: every line of an instance read back
// with `logs.query.request`, page by page (`next`), and compared with the line numbers it sent.
import type { RequestClient } from '@correio/transport';

export interface InstanceCount {
  readonly instance: string;
  /** Lines the service returned for the instance (a line returned twice counts twice). */
  readonly returned: number;
  /** Distinct line numbers 1..sent among them. */
  readonly held: number;
  /** Line numbers 1..sent not returned: lost lines. */
  readonly missing: number;
  /** Lines returned more than once, or numbered outside 1..sent (a drop notice, another run's line). */
  readonly extra: number;
}

const PAGE_LIMIT = 1000;

/** The line numbers (`seq`) of every line of `instance` on `service` (`srv.<id>` answers without a token), following `next`; at most `maxPages` pages. */
export async function readLineNumbers(client: RequestClient, service: string, instance: string, maxPages: number): Promise<number[]> {
  const seqs: number[] = [];
  let after: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const reply = await client.request(
      service,
      'logs.query.request',
      { instance, limit: PAGE_LIMIT, ...(after === undefined ? {} : { after }) },
      { retries: 2 },
    );
    if (reply.type !== 'logs.query.reply') throw new Error(`${service} answered ${reply.type}`);
    for (const line of reply.body.lines) seqs.push(line.seq);
    after = reply.body.next;
    if (after === undefined) return seqs;
  }
  throw new Error(`${service}: more than ${maxPages} pages of lines for ${instance}`);
}

/** Compares the line numbers returned for an instance with the `sent` lines it numbered 1..sent (one shipper, one boot). */
export function countLines(instance: string, seqs: readonly number[], sent: number): InstanceCount {
  const seen = new Uint8Array(sent + 1);
  let held = 0;
  for (const seq of seqs) {
    if (seq >= 1 && seq <= sent && seen[seq] === 0) {
      seen[seq] = 1;
      held++;
    }
  }
  return { instance, returned: seqs.length, held, missing: sent - held, extra: seqs.length - held };
}

export interface Verification {
  /** Service → its count of each instance. */
  readonly byService: ReadonlyMap<string, readonly InstanceCount[]>;
  /** Lines sent that no service returned. */
  readonly lost: number;
}

/**
 * Reads back each instance's lines on each of `services` (every server's own copy) and counts them,
 * and counts the lines none of them holds.
 */
export async function verifyStored(client: RequestClient, services: readonly string[], sent: ReadonlyMap<string, number>): Promise<Verification> {
  const byService = new Map<string, InstanceCount[]>(services.map((service) => [service, []]));
  let lost = 0;
  for (const [instance, lines] of sent) {
    // A page holds at least ~100 lines of this size (the service cuts replies at 200,000 characters).
    const maxPages = Math.ceil(lines / 100) + 10;
    const everywhere: number[] = [];
    for (const service of services) {
      const seqs = await readLineNumbers(client, service, instance, maxPages);
      byService.get(service)!.push(countLines(instance, seqs, lines));
      everywhere.push(...seqs);
    }
    lost += countLines(instance, everywhere, lines).missing;
  }
  return { byService, lost };
}
