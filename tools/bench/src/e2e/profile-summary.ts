// Summarises V8 CPU profiles (`node --cpu-prof`, as `bench:e2e --profile-dir` writes them): the
// share of samples idle, and the functions and files with the most self time.
//   npx tsx tools/bench/src/e2e/profile-summary.ts tmp/profiles/*.cpuprofile [--top 25]
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const topIndex = process.argv.indexOf('--top');
const top = topIndex >= 0 ? Number(process.argv[topIndex + 1]) : 25;
const files = process.argv.slice(2).filter((arg, i, all) => arg !== '--top' && all[i - 1] !== '--top');

/** A path short enough to read: from the workspace or node_modules package onwards. */
function shortUrl(url: string): string {
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) return url.slice(modules + 'node_modules/'.length);
  const work = /\/(apps|libs|tools)\/.*/.exec(url);
  return work ? work[0].slice(1) : url.replace(/^file:\/\//, '') || '(native)';
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)!.callFrame;
    total += us;
    if (frame.functionName === '(idle)') {
      idle += us;
      return;
    }
    const where = shortUrl(frame.url);
    const name = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byFile.set(where, (byFile.get(where) ?? 0) + us);
  });
  const busy = total - idle;
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  console.log(`\n## ${basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, ${((100 * idle) / total).toFixed(0)} % idle; shares of the busy ${(busy / 1e6).toFixed(1)} s\n`);
  console.log('By file:');
  for (const [name, us] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, Math.ceil(top / 2))) console.log(`  ${pct(us)}  ${name}`);
  console.log('By function (self time):');
  for (const [name, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${name}`);
}
