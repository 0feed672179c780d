import type { Database, Key } from 'lmdb';
import type { Operation } from '@correio/protocol';
import type { OrderKey } from './order.js';

type ConfigSet = Extract<Operation, { kind: 'config.set' }>;

/** One version of a scope's configuration document (protocol defs.json configVersionEntry). */
export interface ConfigEntry {
  readonly version: number;
  readonly document: string;
  readonly author: string;
  readonly at: number;
  readonly rollback_of?: number;
  readonly op: { readonly origin: string; readonly seq: number };
}

/** The key of a scope: its program, and its instance ('' for the kind's own document; node ids are never empty). */
type ScopeKey = [program: string, instance: string];

/** Versions of history scanned per entry asked for, at most: duplicates of a version are rare (a coordinator change). */
const SCAN_FACTOR = 4;

/**
 * Configuration versions by scope: [program, instance, version, ...order] → entry. Two operations
 * may carry the same version of a scope (two coordinators during a change of coordinator); the
 * earliest by order is that version, the same on every replica, and the other stays in the log.
 */
export class ConfigIndex {
  readonly #db: Database<ConfigEntry, Key>;

  constructor(db: Database<ConfigEntry, Key>) {
    this.#db = db;
  }

  put(op: ConfigSet, order: OrderKey): void {
    const { program, instance, version, document, author, rollback_of } = op.data;
    this.#db.put([...scope(program, instance), version, ...order], {
      version,
      document,
      author,
      at: op.hlc[0],
      ...(rollback_of === undefined ? {} : { rollback_of }),
      op: op.op,
    });
  }

  remove(op: ConfigSet, order: OrderKey): void {
    this.#db.remove([...scope(op.data.program, op.data.instance), op.data.version, ...order]);
  }

  has(op: ConfigSet, order: OrderKey): boolean {
    return this.#db.doesExist([...scope(op.data.program, op.data.instance), op.data.version, ...order]);
  }

  /** The current version of a scope: its highest version. */
  head(program: string, instance: string | undefined): ConfigEntry | undefined {
    return this.history(program, instance, 1)[0];
  }

  /** One version of a scope. */
  version(program: string, instance: string | undefined, version: number): ConfigEntry | undefined {
    const [first] = this.#db.getRange({ start: [...scope(program, instance), version], end: [...scope(program, instance), version + 1], limit: 1 });
    return first?.value;
  }

  /** A scope's versions, newest first, one entry per version, below `before` when given. */
  history(program: string, instance: string | undefined, limit: number, before = Number.MAX_SAFE_INTEGER): ConfigEntry[] {
    const entries: ConfigEntry[] = [];
    let winner: ConfigEntry | undefined;
    // Newest first; within a version the latest order comes first, so the last seen is the earliest.
    for (const { value } of this.#db.getRange({ start: [...scope(program, instance), before], end: [...scope(program, instance), 0], reverse: true, limit: limit * SCAN_FACTOR + 1 })) {
      if (winner !== undefined && value.version !== winner.version) {
        entries.push(winner);
        if (entries.length === limit) return entries;
      }
      winner = value;
    }
    if (winner !== undefined && entries.length < limit) entries.push(winner);
    return entries;
  }
}

function scope(program: string, instance: string | undefined): ScopeKey {
  return [program, instance ?? ''];
}
