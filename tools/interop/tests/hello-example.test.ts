// The original framework's example — a service with a `hello` action and a `heartbeat` task —
// ported to each language (examples/hello/{ts,python,go}) and run as their READMEs say, all three
// at once: each greets the other two through their actions, hears their heartbeats (broadcasts),
// and sees them come and go through its discovery hooks.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { killAll, scratchDir, spawnCommand, spawnProgram, workspaceRoot, type Child } from '@correio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonExecutable, requirePeerToolchains, startTopology, type Topology } from '../src/index.js';

const STARTUP_MS = 180_000;
const HELLOS = ['hello-ts', 'hello-py', 'hello-go'] as const;
type Hello = (typeof HELLOS)[number];
const LANG: Readonly<Record<Hello, string>> = { 'hello-ts': 'ts', 'hello-py': 'py', 'hello-go': 'go' };
const GREETING_FROM: Readonly<Record<Hello, string>> = { 'hello-ts': 'TypeScript', 'hello-py': 'Python', 'hello-go': 'Go' };
const scratch = scratchDir('correio-interop-hello-');
let topology: Topology;
const programs = new Map<Hello, Child>();

/** The JSON log lines a program wrote to stderr, without spaces (pino, logging and slog space them differently). */
const logLines = (child: Child) => child.stderr.split('\n').filter((line) => line.startsWith('{')).map((line) => line.replace(/\s/g, ''));

beforeAll(async () => {
  requirePeerToolchains();
  topology = await startTopology({ dataDir: scratch.dir, proxy: true });
  const goBinary = join(scratch.dir, 'hello-go');
  const build = spawnSync('go', ['build', '-o', goBinary, '.'], { cwd: join(workspaceRoot, 'examples', 'hello', 'go'), encoding: 'utf8', env: { ...process.env, GOFLAGS: '-buildvcs=false' } });
  if (build.status !== 0) throw new Error(`go build of examples/hello/go failed: ${build.stderr}`);
  const common = (self: Hello) => ['--broker', topology.broker, '--proxy-pub', topology.proxy!.publishers, '--proxy-sub', topology.proxy!.subscribers, '--heartbeat-ms', '300', '--peers', HELLOS.filter((other) => other !== self).join(',')];
  const env = { CORREIO_LOG_LEVEL: 'info' };
  programs.set('hello-ts', spawnProgram('hello-ts', join(workspaceRoot, 'examples', 'hello', 'ts', 'hello.ts'), common('hello-ts'), { env }));
  programs.set('hello-py', spawnCommand('hello-py', pythonExecutable, [join(workspaceRoot, 'examples', 'hello', 'python', 'hello.py'), ...common('hello-py')], { env: { ...env, PYTHONPATH: join(workspaceRoot, 'peers', 'python') } }));
  programs.set('hello-go', spawnCommand('hello-go', goBinary, common('hello-go'), { env }));
}, STARTUP_MS);

afterAll(async () => {
  await killAll();
  scratch.remove();
});

describe('examples/hello in TypeScript, Python and Go', () => {
  it('each greets the other two, hears their heartbeats and sees them up through its hooks', async () => {
    for (const [self, child] of programs) {
      for (const peer of HELLOS.filter((other) => other !== self)) {
        const line = await child.waitForLine((printed) => printed.startsWith('{') && (JSON.parse(printed) as { peer?: string }).peer === peer, STARTUP_MS);
        const { reply } = JSON.parse(line) as { reply: { greeting: string; by: string } };
        expect(reply.greeting, `${self} greeted by ${peer}`).toBe(`hello ${self}, from ${GREETING_FROM[peer]}`);
        expect(reply.by, `${peer} says which instance answered`).toMatch(new RegExp(`^${peer}`));
        await child.waitFor(() => logLines(child).some((log) => log.includes('heartbeatheard') && log.includes(`"lang":"${LANG[peer]}"`)), `${self} hearing ${peer}'s heartbeat`, 30_000);
        await child.waitFor(() => logLines(child).some((log) => log.includes('serviceup') && log.includes(`"service":"${peer}"`)), `${self} seeing ${peer} up`, 30_000);
      }
    }
  }, STARTUP_MS + 60_000);

  it('each drains on SIGTERM, and the others see it go down', async () => {
    for (const [index, self] of HELLOS.entries()) {
      const child = programs.get(self)!;
      child.kill('SIGTERM');
      expect((await child.exited).code, `${self} drained and exited 0`).toBe(0);
      for (const watcher of HELLOS.slice(index + 1)) {
        const watching = programs.get(watcher)!;
        await watching.waitFor(() => logLines(watching).some((log) => log.includes('servicedown') && log.includes(`"service":"${self}"`) && log.includes('announced')), `${watcher} seeing ${self} down`, 30_000);
      }
    }
  }, 120_000);
});
