// The proxy and the publisher/subscriber fixture programs as child processes of the end-to-end
// tests (@correio/testing tracks them: killAll in afterEach, even when a test fails).
import { join } from 'node:path';
import { spawnProgram, workspaceRoot, type Child } from '@correio/testing';

export const fixtures = join(import.meta.dirname, '..', 'fixtures');
export const proxyMain = join(workspaceRoot, 'apps', 'proxy', 'src', 'main.ts');

export interface ProxyProcess {
  readonly child: Child;
  readonly publishers: string;
  readonly subscribers: string;
  readonly mode: string;
  readonly http?: string;
}

/** Starts apps/proxy/src/main.ts on free loopback ports and waits for its readiness line. */
export async function startProxyProcess(args: readonly string[]): Promise<ProxyProcess> {
  const child = spawnProgram('proxy', proxyMain, ['--publishers', 'tcp://127.0.0.1:*', '--subscribers', 'tcp://127.0.0.1:*', ...args]);
  const line = await child.waitForLine(/^proxy ready /);
  const fields = Object.fromEntries(line.split(' ').slice(2).map((part) => part.split('=', 2) as [string, string]));
  return { child, publishers: fields['publishers']!, subscribers: fields['subscribers']!, mode: fields['mode']!, ...(fields['http'] ? { http: fields['http'] } : {}) };
}

export function startPublisher(endpoint: string, topics: string, extra: readonly string[] = []): Child {
  return spawnProgram(`publisher:${topics}`, join(fixtures, 'publisher.ts'), ['--endpoint', endpoint, '--topics', topics, ...extra]);
}

/**
 * A subscriber that prints its summary once it has seen the end of `ends` streams (a publisher's
 * topic); with `--wait-for-go` or `--stall-until-go` it waits for the test to write `go` (Child.write).
 */
export function startSubscriber(endpoint: string, topics: string, ends: number, extra: readonly string[] = []): Child {
  const stdin = extra.includes('--wait-for-go') || extra.includes('--stall-until-go') ? 'pipe' : 'ignore';
  return spawnProgram(`subscriber:${topics}`, join(fixtures, 'subscriber.ts'), ['--endpoint', endpoint, '--topics', topics, '--ends', String(ends), ...extra], { stdin });
}
