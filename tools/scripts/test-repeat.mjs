#!/usr/bin/env node
// Evidence of stability: runs one project's tests (or the whole test step of `npm test`) N times in a
// row, never stopping early, and prints a table of the runs, passes, failures and native aborts, with
// the failing tests by name. Each run's output is kept in tmp/test-repeat/run-<n>.log.
//
//   npm run test:repeat -- --times 30 --project @correio/transport
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { findTestProjects, runTests } from './test-all.mjs';
import { workspaceRoot } from './test-summary.mjs';

/** Output lines that mean a process died natively: libzmq's assertion, an abort, a lost vitest worker, a V8 fatal error. */
const ABORT = /Assertion failed|SIGABRT|Worker exited unexpectedly|Aborted \(core dumped\)|----- Native stack trace -----/g;

const options = new Command('test-repeat')
  .description('Run the tests of a project (or all of them) several times in a row and report every failure and abort.')
  .option('--times <n>', 'how many consecutive runs', positiveInteger, 10)
  .option('--project <name>', 'one project: its name (@correio/transport), folder (libs/transport) or folder name (transport); all when omitted')
  .parse()
  .opts();

let nxArgs = [];
if (options.project) {
  const [project, ...others] = await findTestProjects([options.project]);
  if (!project || others.length > 0) {
    console.error(`test-repeat: ${project ? 'more than one' : 'no'} project with tests is named ${options.project}; see \`npx nx show projects --with-target test\`.`);
    process.exit(2);
  }
  nxArgs = ['-p', project.name];
}

const logs = join(workspaceRoot, 'tmp', 'test-repeat');
rmSync(logs, { recursive: true, force: true });
mkdirSync(logs, { recursive: true });
const what = options.project ? nxArgs[1] : 'every project';
console.log(`test-repeat: ${options.times} runs of the tests of ${what}; each run's output in ${relative(process.cwd(), logs)}/`);
console.log('run  result  passed  failed  skipped  aborts     time');

const runs = [];
for (let run = 1; run <= options.times; run += 1) {
  const started = Date.now();
  // The first run builds what the tests depend on; the following runs test the same build.
  const { summary, output } = await runTests(run === 1 ? nxArgs : [...nxArgs, '--excludeTaskDependencies'], () => undefined);
  const aborts = output.match(ABORT)?.length ?? 0;
  const log = join(logs, `run-${run}.log`);
  writeFileSync(log, output);
  const result = { run, failed: summary.failed > 0, aborts, failures: summary.failures, summary, seconds: (Date.now() - started) / 1000 };
  runs.push(result);
  const cells = [String(run).padStart(3), result.failed ? 'FAIL' : 'pass', summary.passed, summary.failed, summary.skipped, aborts, `${result.seconds.toFixed(1)} s`];
  console.log(`${cells[0]}  ${cells[1].padEnd(6)}  ${cells.slice(2, 6).map((cell) => String(cell).padStart(6)).join('  ')}  ${cells[6].padStart(7)}`);
  for (const failure of result.failures) console.log(`       ${failure}`);
}

const failures = new Map();
for (const { failures: names } of runs) for (const name of new Set(names)) failures.set(name, (failures.get(name) ?? 0) + 1);
const failedRuns = runs.filter((run) => run.failed).length;
const abortedRuns = runs.filter((run) => run.aborts > 0).length;
console.log('');
console.log(`  runs  passes  failures  aborts`);
console.log(`${String(runs.length).padStart(6)}  ${String(runs.length - failedRuns).padStart(6)}  ${String(failedRuns).padStart(8)}  ${String(abortedRuns).padStart(6)}`);
if (failures.size > 0) {
  console.log('failing tests (runs in which each failed):');
  for (const [name, count] of [...failures].sort((a, b) => b[1] - a[1])) console.log(`  ${count}/${runs.length}  ${name}`);
}
process.exitCode = failedRuns > 0 || abortedRuns > 0 ? 1 : 0;

function positiveInteger(value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of runs, at least 1');
  return n;
}
