// What one durable commit costs on this disk, alone: a raw append + fdatasync, against LMDB
// (lmdb-js) opened as the chat store opens it (sync on commit: noSync, noMetaSync,
// overlappingSync all false), one small write per awaited transaction, and variants that say
// where the difference goes (a synchronous transaction on the main thread; noMetaSync = one sync
// instead of two). Sequential, like one client's writes.
//   npx tsx tools/bench/src/e2e/commit-cost.ts [--writes 500 --data-root <dir on a disk>]
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { arg, numberArg } from '../peers/args.js';
import { percentile, sortSamples } from '../stats.js';
import { requireRealDisk } from './setup.js';

const writes = numberArg('writes', 500);
const dataParent = requireRealDisk(resolve(arg('data-root', tmpdir())));
const scratch = mkdtempSync(join(dataParent, 'correio-commit-cost-'));
/** About the size of a stored publish operation with its index entries. */
const VALUE = Buffer.alloc(300, 'x');

async function timed(label: string, write: (i: number) => unknown): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < writes + 20; i++) {
    const started = performance.now();
    await write(i);
    if (i >= 20) samples.push((performance.now() - started) * 1_000); // the first ones warm the file up
  }
  const sorted = sortSamples(samples);
  process.stdout.write(`| ${label} | ${(percentile(sorted, 50) / 1_000).toFixed(3)} ms | ${(percentile(sorted, 99) / 1_000).toFixed(3)} ms |\n`);
}

function openStore(name: string, options: { noMetaSync?: boolean } = {}): RootDatabase {
  return open({ path: join(scratch, name), compression: false, maxDbs: 16, noSync: false, noMetaSync: options.noMetaSync ?? false, overlappingSync: false });
}

try {
  process.stdout.write(`${writes} sequential durable writes of ${VALUE.length} B on ${dataParent}\n\n| Commit | p50 | p99 |\n|---|---:|---:|\n`);
  const fd = openSync(join(scratch, 'append.log'), 'a');
  await timed('append + fdatasync (raw)', () => {
    writeSync(fd, VALUE);
    fdatasyncSync(fd);
  });
  closeSync(fd);

  const store = openStore('store');
  await timed('LMDB, awaited async transaction (as ChatStore)', (i) => store.transaction(() => store.put(`k${i}`, VALUE)));
  await timed('LMDB, transactionSync on the main thread', (i) => store.transactionSync(() => store.put(`s${i}`, VALUE)));
  await store.close();

  const metaUnsynced = openStore('nometasync', { noMetaSync: true });
  await timed('LMDB, awaited async transaction, noMetaSync (one sync, not durable)', (i) => metaUnsynced.transaction(() => metaUnsynced.put(`k${i}`, VALUE)));
  await metaUnsynced.close();
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
