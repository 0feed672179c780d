#!/usr/bin/env node
// The test step of `npm test`: runs every project's tests with nx (fresh reports in tmp/test-results),
// then prints the summary of tools/scripts/test-summary.mjs, in which a project whose report is
// missing or whose run nx saw fail counts as failed even when its report says otherwise.
// Extra arguments go to `nx run-many` (e.g. `-p @correio/transport`). Exits 1 exactly when the
// closing line counts a failure.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { createProjectGraphAsync } from 'nx/src/devkit-exports.js';
import { defaultReportsDir, formatSummary, reportsIn, summarize, workspaceRoot } from './test-summary.mjs';

/**
 * Runs `nx run-many -t test` with `nxArgs` and summarizes it. `onOutput` receives the output as it
 * comes (default: passed through to this process's stdout and stderr).
 * @returns {Promise<{ summary: import('./test-summary.mjs').Summary, output: string }>}
 */
export async function runTests(nxArgs = [], onOutput = (chunk, stream) => process[stream].write(chunk)) {
  rmSync(defaultReportsDir, { recursive: true, force: true });
  const { status, output } = await runNx(['run-many', '-t', 'test', '--outputStyle=static', '--skip-nx-cache', '--parallel=2', ...nxArgs], onOutput);
  const failedTasks = failedTestProjects(output);
  let projects;
  let graphProblem;
  try {
    projects = await testProjects(nxArgs);
  } catch (error) {
    graphProblem = error instanceof Error ? error.message : String(error);
  }
  const runs = projects
    ? projects.map(({ name, root }) => ({ report: basename(root), exitCode: failedTasks.has(name) ? 1 : 0 }))
    : reportsIn(defaultReportsDir).map((report) => ({ report }));
  const summary = summarize(defaultReportsDir, runs);
  if (graphProblem !== undefined) {
    summary.failures.push(`the projects with tests could not be listed (${graphProblem}): a missing report would go unnoticed`);
    summary.failed += 1;
  }
  if (status !== 0 && summary.failed === 0) {
    // Not a test's failure (every report is complete), yet the run failed: the line must say so.
    summary.failures.push(`nx exited with status ${status} though every test report is complete; see its output`);
    summary.failed += 1;
  }
  return { summary, output };
}

/** Runs nx with `args`, passing its output to `onOutput` as it comes; resolves its status and whole output. */
function runNx(args, onOutput) {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn('npx', ['nx', ...args], { cwd: workspaceRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of ['stdout', 'stderr']) {
      child[stream].on('data', (chunk) => {
        output += chunk;
        onOutput(chunk, stream);
      });
    }
    child.on('error', (error) => resolve({ status: 127, output: `${output}${error.message}\n` }));
    child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 128 : 1), output }));
  });
}

/** The projects whose test task nx lists under "Failed tasks:" in its static output. */
export function failedTestProjects(output) {
  const lines = stripVTControlCharacters(output).split('\n');
  const start = lines.findIndex((line) => line.trim() === 'Failed tasks:');
  const failed = new Set();
  if (start < 0) return failed;
  for (const line of lines.slice(start + 1)) {
    const task = line.match(/^\s*-\s+(\S+):test\b/);
    if (task) failed.add(task[1]);
    else if (line.trim() !== '' && !/^\s*-\s/.test(line)) break;
  }
  return failed;
}

/** The projects with a test target that `nx run-many` runs given `nxArgs` (-p/--projects narrows them). */
function testProjects(nxArgs) {
  const index = nxArgs.findIndex((arg) => arg === '-p' || arg === '--projects');
  const inline = nxArgs.find((arg) => arg.startsWith('--projects='));
  return findTestProjects((index >= 0 ? nxArgs[index + 1] : inline?.slice('--projects='.length))?.split(','));
}

/**
 * The projects with a test target, all or those `wanted` names: by project name (@correio/transport),
 * folder (libs/transport) or folder name (transport).
 * @returns {Promise<{ name: string, root: string }[]>}
 */
export async function findTestProjects(wanted) {
  const graph = await createProjectGraphAsync({ exitOnError: false });
  return Object.values(graph.nodes)
    .filter((node) => node.data.targets?.test)
    .filter(({ name, data: { root } }) => !wanted || wanted.some((want) => [name, root, basename(root)].includes(want.replace(/\/$/, ''))))
    .map((node) => ({ name: node.name, root: node.data.root }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { summary } = await runTests(process.argv.slice(2));
  console.log(formatSummary(summary));
  process.exitCode = summary.failed > 0 ? 1 : 0;
}
