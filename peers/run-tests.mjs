#!/usr/bin/env node
// Runs one reference peer's test suite (`python`: pytest, `go`: go test, `rust`: cargo test) from its folder, shows the
// runner's own output, and writes tmp/test-results/<peer>.json with the counts the vitest JSON
// reports carry ({numPassedTests, numFailedTests, numPendingTests}), so that
// tools/scripts/test-summary.mjs counts the peers' tests too. Exits with the runner's status.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const peersDir = dirname(fileURLToPath(import.meta.url));
const repo = dirname(peersDir);
const peer = process.argv[2];

/** Runs a command, passing its output through (or to `onLine`), and resolves its exit status. */
function runCommand(command, args, cwd, onLine) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', onLine ? 'pipe' : 'inherit', 'inherit'] });
    if (onLine) {
      let rest = '';
      child.stdout.on('data', (chunk) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        lines.forEach(onLine);
      });
      child.stdout.on('end', () => rest && onLine(rest));
    }
    child.on('error', (error) => {
      console.error(`${command}: ${error.message}`);
      resolve(127);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function pytest() {
  const scratch = mkdtempSync(join(tmpdir(), 'correio-pytest-'));
  const junit = join(scratch, 'junit.xml');
  try {
    const status = await runCommand(join(repo, '.venv/bin/python'), ['-m', 'pytest', '-q', `--junitxml=${junit}`], join(peersDir, 'python'));
    let xml = '';
    try {
      xml = readFileSync(junit, 'utf8');
    } catch {
      return { status, counts: { passed: 0, failed: 1, skipped: 0 } }; // pytest did not even start
    }
    const suite = xml.match(/<testsuite\b[^>]*>/)?.[0] ?? '';
    const attribute = (name) => Number(suite.match(new RegExp(`\\b${name}="(\\d+)"`))?.[1] ?? 0);
    const failed = attribute('failures') + attribute('errors');
    const skipped = attribute('skipped');
    return { status, counts: { passed: attribute('tests') - failed - skipped, failed, skipped } };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function goTest() {
  // go test -json reports every test and subtest; only leaves are counted (a parent's result is
  // its children's). Package lines and failing tests' output are shown; passing tests stay quiet.
  const results = new Map();
  const output = new Map();
  const status = await runCommand('go', ['test', '-json', '-count=1', './...'], join(peersDir, 'go'), (line) => {
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      if (line.trim()) console.log(line);
      return;
    }
    const key = event.Test ? `${event.Package} ${event.Test}` : undefined;
    if (event.Action === 'output') {
      if (!key) process.stdout.write(event.Output);
      else output.set(key, (output.get(key) ?? '') + event.Output);
    } else if (key && ['pass', 'fail', 'skip'].includes(event.Action)) {
      results.set(key, event.Action);
      if (event.Action === 'fail') process.stdout.write(output.get(key) ?? '');
    }
  });
  const keys = [...results.keys()];
  const leaves = keys.filter((key) => !keys.some((other) => other.startsWith(`${key}/`)));
  const count = (action) => leaves.filter((key) => results.get(key) === action).length;
  const counts = { passed: count('pass'), failed: count('fail'), skipped: count('skip') };
  if (status !== 0 && counts.failed === 0) counts.failed = 1; // a build failure has no test events
  console.log(`go: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  return { status, counts };
}

async function cargoTest() {
  // cargo test prints `test result: ok. N passed; M failed; K ignored; …` once per test target.
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const status = await runCommand('cargo', ['test', '--release', '--locked'], join(peersDir, 'rust'), (line) => {
    console.log(line);
    const result = line.match(/^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/);
    if (result) {
      counts.passed += Number(result[1]);
      counts.failed += Number(result[2]);
      counts.skipped += Number(result[3]);
    }
  });
  if (status !== 0 && counts.failed === 0) counts.failed = 1; // a build failure has no test results
  return { status, counts };
}

const runners = { python: pytest, go: goTest, rust: cargoTest };
if (!runners[peer]) {
  console.error(`usage: run-tests.mjs ${Object.keys(runners).join('|')}`);
  process.exit(2);
}
const { status, counts } = await runners[peer]();
const reports = join(repo, 'tmp', 'test-results');
mkdirSync(reports, { recursive: true });
writeFileSync(
  join(reports, `${peer}.json`),
  `${JSON.stringify({ numPassedTests: counts.passed, numFailedTests: counts.failed, numPendingTests: counts.skipped, numTodoTests: 0 })}\n`,
);
process.exitCode = status;
