import { join } from 'node:path';
import { readFileIfPresent, writeFileDurably } from '@correio/observability';
import type { ClockStore } from '@correio/clocks';

const FORMAT = 'correio-lamport-mark/1';

/**
 * The Lamport clock's high-water mark in one small file of the data directory (`lamport.json`),
 * so a restarted server never issues a value it issued before — replies to reads included, which
 * leave no operation in the store. `save()` returns only once the mark is durable: it writes a
 * temporary file, fsyncs it, renames it over the old one and fsyncs the directory, so a crash
 * leaves the old mark or the new one, never a torn file. The data directory lock makes this
 * process the only writer, as ClockStore requires.
 */
export class FileClockStore implements ClockStore {
  readonly path: string;

  constructor(dataDir: string, fileName = 'lamport.json') {
    this.path = join(dataDir, fileName);
  }

  load(): number | undefined {
    const text = readFileIfPresent(this.path);
    if (text === undefined) return undefined;
    const parsed = JSON.parse(text) as { format?: unknown; mark?: unknown };
    if (parsed.format !== FORMAT || !Number.isSafeInteger(parsed.mark) || (parsed.mark as number) < 0) {
      // Guessing would risk reusing Lamport values: refuse, as for any damaged store.
      throw new Error(`${this.path} is not a Lamport mark this server wrote (${text.slice(0, 80)}); restore it, or remove it only if no other copy of this server ever ran`);
    }
    return parsed.mark as number;
  }

  save(value: number): void {
    writeFileDurably(this.path, `${JSON.stringify({ format: FORMAT, mark: value })}\n`);
  }
}
