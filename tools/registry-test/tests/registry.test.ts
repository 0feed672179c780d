// Every public @correio/* library as a user gets it: packed (its prepack builds it), published to a
// local verdaccio registry, installed into a project outside the workspace, where each README's
// quick-start example runs with plain node and a TypeScript consumer type-checks.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { runServer } from 'verdaccio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readmeExample } from './readmeExample.js';
import { publicLibraries, workspaceRoot, type Library } from './workspace.js';

const libraries = publicLibraries();
const rootLicense = readFileSync(join(workspaceRoot, 'LICENSE'), 'utf8');

/**
 * The environment of the child processes: none of the npm_* variables of `npm run`, which point npm
 * at the workspace, no NODE_PATH, CORREIO_* settings, or FORCE_COLOR (nx sets it; it would colour
 * what the examples print).
 */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|NODE_PATH$|NODE_OPTIONS$|CORREIO_|INIT_CWD$|FORCE_COLOR$)/i.test(key)));

const running = new Set<number>();

/**
 * Runs a program to completion in a process group of its own, so a time-out (or the clean-up of a
 * failed run) ends it together with what it started (npm's lifecycle scripts, tsc).
 */
function command(file: string, args: string[], cwd: string, timeout = 180_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env: cleanEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const group = child.pid;
    if (group !== undefined) running.add(group);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => killGroup(group), timeout);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (group !== undefined) running.delete(group);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${file} ${args.join(' ')} ${signal ? `was killed (${signal}) after ${timeout} ms` : `exited ${code}`}\n${stderr}${stdout}`));
    });
  });
}

function killGroup(group: number | undefined) {
  if (group === undefined) return;
  try {
    process.kill(-group, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Runs one stage of the set-up and says how long it took (the test's time goes there). */
async function step<T>(name: string, stage: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await stage();
  console.info(`registry-test: ${name} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

let scratch: string | undefined;
let registry: Server | undefined;
let consumer = '';

async function startRegistry(storage: string): Promise<{ url: string; token: string }> {
  // No uplinks: @correio/* can only come from what this test published.
  const server: Server = await runServer({
    self_path: join(storage, 'config.yaml'),
    storage: join(storage, 'packages'),
    auth: { htpasswd: { file: join(storage, 'htpasswd'), max_users: 1 } },
    uplinks: {},
    packages: { '@correio/*': { access: '$all', publish: '$authenticated' }, '**': { access: '$all', publish: '$authenticated' } },
    log: { type: 'stdout', format: 'pretty', level: 'error' },
  } as never);
  registry = server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const response = await fetch(`${url}-/user/org.couchdb.user:ci`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'ci', password: 'registry-test' }),
  });
  const { token } = (await response.json()) as { token?: string };
  if (!response.ok || !token) throw new Error(`verdaccio refused the test user (${response.status})`);
  return { url, token };
}

async function stopRegistry() {
  const server = registry;
  registry = undefined;
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

async function cleanUp() {
  for (const group of running) killGroup(group);
  await stopRegistry();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

beforeAll(async () => {
  try {
    const dir = mkdtempSync(join(tmpdir(), 'correio-registry-'));
    scratch = dir;
    if (!relative(workspaceRoot, dir).startsWith('..')) throw new Error(`${dir} is inside the workspace`);
    const packs = join(dir, 'packs');
    consumer = join(dir, 'consumer');
    mkdirSync(packs);
    mkdirSync(consumer);

    // npm pack runs each library's prepack (its build), as it would from a fresh clone.
    const workspaces = libraries.flatMap((library) => ['-w', library.name]);
    await step('pack', () => command('npm', ['pack', ...workspaces, '--pack-destination', packs, '--loglevel=warn'], workspaceRoot, 480_000));
    const tarballs = readdirSync(packs).map((file) => join(packs, file));
    expect(tarballs).toHaveLength(libraries.length);

    const { url, token } = await startRegistry(join(dir, 'registry'));
    const authority = url.replace(/^http:/, '');
    const publishConfig = join(dir, 'publish.npmrc');
    writeFileSync(publishConfig, `${authority}:_authToken=${token}\n`);
    await step('publish', () => Promise.all(tarballs.map((tarball) => command('npm', ['publish', tarball, '--registry', url, '--userconfig', publishConfig, '--loglevel=warn'], dir))));

    // @correio/* from the local registry only; third-party dependencies from the usual one. No
    // install scripts, as with npm 11's defaults: zeromq must load its prebuilt binary as shipped.
    writeFileSync(join(consumer, '.npmrc'), `@correio:registry=${url}\n${authority}:_authToken=${token}\n`);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
    const wanted = libraries.map((library) => `${library.name}@${library.version}`);
    await step('install', () => command('npm', ['install', ...wanted, '@types/node@^20', '--ignore-scripts', '--prefer-online', '--no-audit', '--no-fund', '--loglevel=warn'], consumer, 300_000));
  } catch (error) {
    await cleanUp();
    throw error;
  }
}, 900_000);

afterAll(cleanUp, 30_000);

describe('public libraries installed from a registry', () => {
  it('are the libs/ workspaces not marked private, and every other workspace is private', () => {
    expect(libraries.map((library) => library.name)).toContain('@correio/transport');
    for (const folder of ['apps', 'tools', 'peers']) {
      for (const entry of readdirSync(join(workspaceRoot, folder), { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        let manifest: { name: string; private?: boolean };
        try {
          manifest = JSON.parse(readFileSync(join(workspaceRoot, folder, entry.name, 'package.json'), 'utf8'));
        } catch {
          continue; // a folder that is not a workspace
        }
        expect(manifest.private, `${manifest.name} must be private`).toBe(true);
      }
    }
  });

  it('are exactly the fixed group that changesets versions together', () => {
    const config = JSON.parse(readFileSync(join(workspaceRoot, '.changeset', 'config.json'), 'utf8')) as { fixed: string[][] };
    expect(config.fixed.flat().sort()).toEqual(libraries.map((library) => library.name).sort());
  });

  describe.each(libraries)('$name', (library: Library) => {
    const installed = () => join(consumer, 'node_modules', library.name);

    it('ships its build, its types, source maps with their sources, README and LICENSE', () => {
      const files = readdirSync(installed(), { recursive: true, encoding: 'utf8' });
      expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', join('dist', 'index.js'), join('dist', 'index.d.ts')]));
      expect(files.filter((file) => file.endsWith('.d.ts.map') || file.endsWith('.tsbuildinfo'))).toEqual([]);
      expect(readFileSync(join(installed(), 'LICENSE'), 'utf8')).toBe(rootLicense);
      for (const map of files.filter((file) => file.endsWith('.js.map'))) {
        const { sources, sourcesContent } = JSON.parse(readFileSync(join(installed(), map), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
        expect(sourcesContent?.filter((content) => typeof content === 'string'), `${map} inlines its sources`).toHaveLength(sources.length);
      }
    });

    it('declares its Correio dependencies with the workspace versions', () => {
      const manifest = JSON.parse(readFileSync(join(installed(), 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      for (const [name, range] of Object.entries(manifest.dependencies ?? {})) {
        if (!name.startsWith('@correio/')) continue;
        const dependency = libraries.find((candidate) => candidate.name === name);
        expect(dependency, `${name} is a public library`).toBeDefined();
        expect(range).toBe(`^${dependency!.version}`);
      }
    });

    it("runs its README's example with plain node", async () => {
      const example = readmeExample(readFileSync(join(installed(), 'README.md'), 'utf8'));
      const file = join(consumer, `example-${library.folder}.mjs`);
      writeFileSync(file, example.code);
      const { stdout } = await command(process.execPath, [file], consumer, 60_000);
      expect(stdout.trimEnd()).toBe(example.output);
    });
  });

  it('type-checks a TypeScript consumer (nodenext) that imports every library', async () => {
    const names = libraries.map((library, index) => ({ ...library, alias: `lib${index}` }));
    writeFileSync(
      join(consumer, 'consumer.ts'),
      [
        ...names.map(({ name, alias }) => `import * as ${alias} from '${name}';`),
        "import type { BodyOf } from '@correio/protocol';",
        '',
        '/** The exports of a module whose type is `any`: a missing or broken declaration. */',
        'type AnyExports<T> = { [K in keyof T]: 0 extends 1 & T[K] ? K : never }[keyof T];',
        ...names.map(({ alias }) => `export const typed${alias}: [AnyExports<typeof ${alias}>] extends [never] ? true : false = true;`),
        "export const login: BodyOf<'chat.login.request'> = { user: 'ana' };",
        '// @ts-expect-error a user name is a string',
        "export const wrong: BodyOf<'chat.login.request'> = { user: 7 };",
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023'], types: ['node'], strict: true, noEmit: true, skipLibCheck: false },
        files: ['consumer.ts'],
      }),
    );
    // The workspace's compiler; what it checks resolves from the consumer's node_modules.
    const tsc = join(workspaceRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    await expect(command(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], consumer)).resolves.toEqual({ stdout: '', stderr: '' });
  });
});
