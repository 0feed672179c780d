// The README's example, examples/greeter at the repository root, run as its README says: a broker
// and a proxy, one greeter instance (main.ts), and a call (call.ts) whose output is checked.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { MajordomoBroker, PubSubProxy } from '@correio/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const greeter = join(root, 'examples', 'greeter');
const tsx = ['--import', 'tsx', '--conditions=@correio/source'];

describe('examples/greeter', () => {
  let broker: MajordomoBroker;
  let proxy: PubSubProxy;
  let instance: ChildProcess | undefined;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'] });
    await broker.start();
    proxy = new PubSubProxy({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' });
    await proxy.start();
    env = { ...process.env, CORREIO_BROKER: broker.endpoints[0]!, CORREIO_PROXY_PUB: proxy.frontend, CORREIO_PROXY_SUB: proxy.backend, CORREIO_LOG_LEVEL: 'info', FORCE_COLOR: '0' }; // plain console.log output, even under a colour-forcing runner
  });

  afterAll(async () => {
    if (instance && instance.exitCode === null && instance.signalCode === null) instance.kill('SIGKILL');
    await broker?.close();
    await proxy?.close();
  });

  it('serves a call as its README shows, and stops gracefully on SIGTERM', async () => {
    instance = spawn(process.execPath, [...tsx, join(greeter, 'main.ts')], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => instance!.once('exit', (code) => resolve(code)));
    const lines = createInterface({ input: instance.stdout! });
    let ready = false;
    for await (const line of lines) if ((ready = line.includes('greeter ready'))) break; // pino JSON lines on stdout
    expect(ready, 'the greeter printed its ready log line').toBe(true);

    const { stdout } = await promisify(execFile)(process.execPath, [...tsx, join(greeter, 'call.ts'), 'ana'], { cwd: root, env, timeout: 60_000, killSignal: 'SIGKILL' });
    expect(stdout).toMatch(/^hi ana \(from greeter-\d+-[0-9a-f]{6}\)$/m);
    expect(stdout).toMatch(/^stats: \{ greeted: 1, instance: 'greeter-\d+-[0-9a-f]{6}', joined: \[\] \}$/m);
    expect(stdout).toContain('invalid params → VALIDATION: greeter.hello: params.name must NOT have fewer than 1 characters (path /body/params/name)');

    instance.kill('SIGTERM');
    expect(await exited, 'a graceful stop exits 0').toBe(0);
  }, 120_000);
});
