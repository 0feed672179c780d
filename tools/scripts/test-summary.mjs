#!/usr/bin/env node
// Adds up the test reports of every project (tmp/test-results/<project>.json: vitest JSON reports,
// and the peers' runner's counts) into one closing line, "tests: N passed, N failed, N skipped".
//
// The vitest JSON report alone cannot be trusted: a test file whose worker crashed (a native abort)
// is written as "passed" with its tests "pending" (or with no tests at all), and an unhandled error
// leaves no trace in it. So a file with unfinished tests or none, a file that failed outside its
// tests, a project without a report and a project whose test run exited non-zero with nothing failed
// in its report each count as one failure, named on a line of its own. Skipped tests are listed by
// name. The exit status is 1 exactly when the closing line has a failure.
//
// Usage: test-summary.mjs [reports-dir] [--expect <report>]... [--failed <report>]...
//   --expect: a project that must have a report; --failed: a project whose test run exited non-zero.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

export const workspaceRoot = fileURLToPath(new URL('../..', import.meta.url));
export const defaultReportsDir = join(workspaceRoot, 'tmp', 'test-results');

/**
 * @typedef {{ report: string, exitCode?: number }} ProjectRun a project's report name
 *   (tmp/test-results/<report>.json) and, when known, the exit status of its test run
 * @typedef {{ passed: number, failed: number, skipped: number, failures: string[], skips: string[], projects: string[] }} Summary
 */

/** Reads the reports in `reportsDir` of the given runs (default: every report there) into a Summary. */
export function summarize(reportsDir = defaultReportsDir, runs = reportsIn(reportsDir).map((report) => ({ report }))) {
  /** @type {Summary} */
  const summary = { passed: 0, failed: 0, skipped: 0, failures: [], skips: [], projects: [] };
  for (const run of [...runs].sort((a, b) => a.report.localeCompare(b.report))) {
    const path = join(reportsDir, `${run.report}.json`);
    let report;
    try {
      report = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      const why = error.code === 'ENOENT' ? 'no report: its test run did not finish (or did not start)' : `unreadable report (${error.message})`;
      count(summary, run.report, { passed: 0, failed: 1, skipped: 0, failures: [`${run.report}: ${why}`], skips: [] });
      continue;
    }
    const counts = Array.isArray(report.testResults) ? vitestCounts(run.report, report) : runnerCounts(run.report, report);
    if (run.exitCode !== undefined && run.exitCode !== 0 && counts.failed === 0) {
      counts.failures.push(`${run.report}: the test run exited with status ${run.exitCode} though no test in its report failed (an unhandled error or a crash; see its output)`);
      counts.failed += 1;
    }
    count(summary, run.report, counts);
  }
  if (summary.passed === 0 && summary.failed === 0) {
    summary.failures.push('no test ran');
    summary.failed = 1;
  }
  return summary;
}

/** The closing lines: skipped tests by name, failures by name, then "tests: N passed, N failed, N skipped". */
export function formatSummary(summary) {
  return [
    ...summary.projects,
    ...summary.skips.map((name) => `skipped: ${name}`),
    ...summary.failures.map((name) => `FAILED: ${name}`),
    `tests: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`,
  ].join('\n');
}

/** The report names (file names without .json) in a directory. */
export function reportsIn(reportsDir) {
  return existsSync(reportsDir) ? readdirSync(reportsDir).filter((file) => file.endsWith('.json')).map((file) => file.slice(0, -'.json'.length)) : [];
}

function count(summary, name, counts) {
  summary.passed += counts.passed;
  summary.failed += counts.failed;
  summary.skipped += counts.skipped;
  summary.failures.push(...counts.failures);
  summary.skips.push(...counts.skips);
  summary.projects.push(`  ${name.padEnd(24)} ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
}

/** Counts a vitest JSON report test by test, and each file that crashed or failed outside its tests as one failure. */
function vitestCounts(project, report) {
  const counts = { passed: 0, failed: 0, skipped: 0, failures: [], skips: [] };
  for (const file of report.testResults) {
    const name = `${project}: ${relative(workspaceRoot, file.name)}`;
    const tests = file.assertionResults ?? [];
    const unfinished = tests.filter((test) => test.status === 'pending').length;
    for (const test of tests) {
      if (test.status === 'passed') counts.passed += 1;
      else if (test.status === 'failed') {
        counts.failed += 1;
        counts.failures.push(`${name} > ${test.fullName}`);
      } else if (test.status === 'skipped' || test.status === 'todo') {
        counts.skipped += 1;
        counts.skips.push(`${name} > ${test.fullName}`);
      }
    }
    let fileFailure;
    if (tests.length === 0) fileFailure = 'no test was collected (the file crashed while loading, or has no tests)';
    else if (unfinished > 0) fileFailure = `${unfinished} of its ${tests.length} tests did not finish (its worker crashed or was killed)`;
    else if (file.status === 'failed' && !tests.some((test) => test.status === 'failed')) fileFailure = `failed outside its tests: ${file.message || 'no message'}`;
    if (fileFailure) {
      counts.failed += 1;
      counts.failures.push(`${name}: ${fileFailure}`);
    }
  }
  return counts;
}

/** Counts a report of another runner (the peers'): totals only, skips named when it lists them. */
function runnerCounts(project, report) {
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  const names = Array.isArray(report.skippedTests) ? report.skippedTests : [];
  return {
    passed: report.numPassedTests ?? 0,
    failed: report.numFailedTests ?? 0,
    skipped,
    failures: report.numFailedTests > 0 ? [`${project}: ${report.numFailedTests} failed (see its output)`] : [],
    skips: names.length > 0 ? names.map((test) => `${project}: ${test}`) : skipped > 0 ? [`${project}: ${skipped} test(s) (the runner does not report names)`] : [],
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { expect: { type: 'string', multiple: true, default: [] }, failed: { type: 'string', multiple: true, default: [] } },
  });
  const reportsDir = positionals[0] ?? defaultReportsDir;
  const names = new Set([...reportsIn(reportsDir), ...values.expect, ...values.failed]);
  const summary = summarize(reportsDir, [...names].map((report) => ({ report, exitCode: values.failed.includes(report) ? 1 : 0 })));
  console.log(formatSummary(summary));
  process.exitCode = summary.failed > 0 ? 1 : 0;
}
