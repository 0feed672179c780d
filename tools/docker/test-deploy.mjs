// `npm run test:deploy`: the deploy, run for real against a Docker engine (opt-in; not part of
// `npm test`). Builds the base image if missing and the Correio image, brings up
// tools/docker/compose.yaml, waits until every service is running and healthy, runs a chat flow
// through the gateway, kills a server and checks that it catches up when started again, crashes a
// server and a bot and checks that their restart policy brings them back, takes the project down and
// up again and checks that the volumes kept the data; then removes the project, its volumes and the
// image it built (the base image stays, as a cache), and stops the dockerd it started. Where no
// engine can run it skips, saying why. docs/deployment.md describes it.
//
// Environment: CORREIO_NODE_IMAGE (base image; default correio-node:20-local, built locally),
// CORREIO_DOCKERD_STORAGE_DRIVER (when it starts dockerd; default vfs). --keep-image keeps the image;
// --reuse-image runs an image kept by an earlier run instead of building one (to work on the compose
// file or on this test).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { waitFor } from '@correio/testing';
import { GatewayUser, historyOnServer } from './deploy-test/chat.mjs';
import { Deployment } from './deploy-test/Deployment.mjs';
import { runCommand, SkipReason, startEngine, stopCommands } from './deploy-test/engine.mjs';
import { LOCAL_BASE_IMAGE, buildImage, ensureBaseImage, removeImages } from './deploy-test/images.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const IMAGE = 'correio:deploy-test';
const PROJECT = 'correio-deploy-test';
const READY_TIMEOUT_MS = 420_000; // nine containers started on vfs storage by a 2-core machine
const keepImage = process.argv.includes('--keep-image') || process.argv.includes('--reuse-image');
const reuseImage = process.argv.includes('--reuse-image');

const workDir = mkdtempSync(join(tmpdir(), 'correio-deploy-'));
const steps = [];
let failed = 0;

function say(line) {
  process.stdout.write(`test:deploy: ${line}\n`);
}

/** Runs one step, timing it; a failure is recorded and stops the run (later steps need earlier ones). */
async function step(name, action) {
  const started = performance.now();
  say(`${name} …`);
  try {
    const detail = (await action()) ?? '';
    const seconds = (performance.now() - started) / 1000;
    steps.push({ name, seconds, result: 'ok', detail });
    say(`${name}: ok in ${seconds.toFixed(1)} s${detail ? ` (${detail})` : ''}`);
  } catch (error) {
    const seconds = (performance.now() - started) / 1000;
    failed += 1;
    steps.push({ name, seconds, result: 'FAILED', detail: error.message.split('\n')[0] });
    throw error;
  }
}

function summary() {
  const width = Math.max(...steps.map((s) => s.name.length));
  const lines = steps.map((s) => `  ${s.name.padEnd(width)}  ${s.seconds.toFixed(1).padStart(7)} s  ${s.result.padEnd(6)}  ${s.detail}`);
  say(`summary\n  ${'step'.padEnd(width)}  ${'time'.padStart(9)}  result  detail\n${lines.join('\n')}`);
  say(`${steps.length - failed} passed, ${failed} failed`);
}

function expectIncludes(texts, expected, where) {
  const missing = expected.filter((text) => !texts.includes(text));
  if (missing.length > 0) throw new Error(`${where} lacks ${missing.length} of ${expected.length} messages: ${missing.slice(0, 3).join(', ')}`);
}

let engine;
try {
  engine = await startEngine({ logFile: join(workDir, 'dockerd.log') });
} catch (error) {
  if (!(error instanceof SkipReason)) throw error;
  say(`skipped: ${error.message}`);
  process.exit(0);
}
say(`engine ${engine.started ? 'started (dockerd, stopped at the end)' : 'already running'}, compose: ${engine.compose.join(' ')}; logs in ${workDir}`);

const deployment = new Deployment({ compose: engine.compose, composeFile: join(ROOT, 'tools/docker/compose.yaml'), project: PROJECT, image: IMAGE, workDir });
let createdImages = [];
const leftAnonymous = [];

// Interrupted (Ctrl-C): best effort to leave nothing behind (running commands ended, then clean-up);
// containers the engine was still creating may outlive it: `docker-compose -p correio-deploy-test down -v`.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    say(`${signal}: cleaning up`);
    failed += 1;
    void stopCommands()
      .then(cleanUp)
      .then(() => process.exit(130));
  });
}

const user = `deploy-${randomBytes(3).toString('hex')}`;
const password = randomBytes(12).toString('hex');
const channel = `deploy-${randomBytes(3).toString('hex')}`;
const before = Array.from({ length: 5 }, (_, i) => `before ${i + 1}`);
const whileDown = Array.from({ length: 10 }, (_, i) => `while srv-1 was down ${i + 1}`);
const gatewayUrl = () => `http://127.0.0.1:${deployment.port('gateway', 8080)}`;
const brokerEndpoint = () => `tcp://127.0.0.1:${deployment.port('broker', 5555)}`;

try {
  await step('base image', async () => {
    const base = await ensureBaseImage({ root: ROOT, image: process.env.CORREIO_NODE_IMAGE ?? LOCAL_BASE_IMAGE, logFile: join(workDir, 'base-image.log') });
    return `${base.image}, ${base.built ? 'built' : 'cached'}`;
  });
  await step('image build', async () => {
    const reused = reuseImage && (await runCommand('docker', ['image', 'inspect', IMAGE]).then(() => true, () => false));
    if (!reused) createdImages = await buildImage({ root: ROOT, image: IMAGE, baseImage: process.env.CORREIO_NODE_IMAGE ?? LOCAL_BASE_IMAGE, logFile: join(workDir, 'build.log') });
    const size = Number(await runCommand('docker', ['image', 'inspect', '--format', '{{.Size}}', IMAGE]));
    return `${IMAGE}, ${(size / 1e6).toFixed(0)} MB${reused ? ', reused' : ''}`;
  });
  await deployment.prepare();
  await step('up: all services healthy', async () => {
    await deployment.composeRun(['up', '-d']);
    const containers = await deployment.waitReady(READY_TIMEOUT_MS);
    const healthy = containers.filter((c) => c.health === 'healthy').length;
    return `${containers.length}/${containers.length} running, ${healthy} healthy by their healthcheck`;
  });
  await step('bots send traffic', async () => {
    for (const bot of ['bot-1', 'bot-2']) {
      await waitFor(async () => /acked [1-9]/.test(await deployment.logs(bot, 5)), `${bot} to report acknowledged messages`, 120_000, 1_000);
    }
  });

  await step('the gateway serves the browser app', async () => {
    const page = await fetch(`${gatewayUrl()}/dashboard`, { headers: { accept: 'text/html' } });
    const html = await page.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    if (page.status !== 200 || script === undefined) throw new Error(`GET /dashboard answered ${page.status} without the app's script: ${html.slice(0, 200)}`);
    const asset = await fetch(`${gatewayUrl()}${script}`);
    if (asset.status !== 200) throw new Error(`GET ${script} answered ${asset.status}`);
    return `/dashboard and ${script} (${(await asset.arrayBuffer()).byteLength} bytes)`;
  });

  const gateway = new GatewayUser(gatewayUrl(), user, password);
  await step('chat flow through the gateway', async () => {
    await gateway.register();
    await gateway.login();
    await gateway.createChannel(channel);
    for (const text of before) await gateway.publish(channel, text);
    expectIncludes(await gateway.history(channel), before, 'the history');
    return `register, login, create ${channel}, ${before.length} publications, history`;
  });

  let killedAt;
  await step('kill srv-1, write while it is down', async () => {
    const { id } = await deployment.container('srv-1');
    await runCommand('docker', ['kill', id]);
    killedAt = performance.now();
    const retriedBefore = gateway.retried;
    for (const text of whileDown) await gateway.publish(channel, text);
    const retried = gateway.retried - retriedBefore;
    return `${whileDown.length} publications through the other servers${retried ? `, ${retried} sent again after a retryable error` : ''}`;
  });
  await step('srv-1 restarted: healthy (caught up)', async () => {
    const { id } = await deployment.container('srv-1');
    await runCommand('docker', ['start', id]);
    await deployment.waitHealthy('srv-1', 180_000);
    return `down ${((performance.now() - killedAt) / 1000).toFixed(1)} s in all`;
  });
  await step('srv-1 history has what was written while down', async () => {
    const texts = await historyOnServer({ broker: brokerEndpoint(), server: 'srv-1', user, password, channel });
    expectIncludes(texts, [...before, ...whileDown], 'srv.srv-1');
    return `${texts.length} messages read from srv.srv-1 through the broker`;
  });

  // A crash (the process dies, not `docker stop`/`kill`) is what restart policies are for; a bot's
  // clean exit too (exit 0 after SIGTERM), since bots run for as long as the deployment.
  for (const [service, signal] of [['srv-2', 'SIGKILL'], ['bot-1', 'SIGTERM']]) {
    await step(`${service}: its program ends (${signal}), restart policy`, async () => {
      const container = await deployment.container(service);
      const program = (await runCommand('pgrep', ['-P', String(container.pid)])).split('\n').find(Boolean);
      if (!program) throw new Error(`no program process under ${service}'s init (${container.pid})`);
      process.kill(Number(program), signal);
      await waitFor(async () => (await deployment.container(service)).restarts > container.restarts, `${service} to be restarted`, 60_000, 500);
      await deployment.waitHealthy(service, 180_000);
      return `restarted by policy ${container.restartPolicy}`;
    });
  }

  await step('down (volumes kept), up again: data still there', async () => {
    leftAnonymous.push(...(await deployment.anonymousVolumes()));
    await deployment.composeRun(['down']);
    const volumes = await deployment.volumes();
    if (volumes.length < 5) throw new Error(`expected the five named volumes after down, found: ${volumes.join(', ') || 'none'}`);
    await deployment.composeRun(['up', '-d']);
    await deployment.waitReady(READY_TIMEOUT_MS);
    // The same password logs in (the users are in the servers' stores, the signing keys on auth-keys).
    const again = new GatewayUser(gatewayUrl(), user, password);
    await again.login();
    expectIncludes(await again.history(channel), [...before, ...whileDown], 'the history after down and up');
    return `${volumes.length} volumes kept; login and all ${before.length + whileDown.length} messages after up`;
  });
} catch (error) {
  process.stderr.write(`test:deploy: FAILED: ${error.message}\n`);
  const containers = await deployment.containers().catch(() => []);
  for (const container of containers.filter((c) => c.status !== 'running' || (c.health && c.health !== 'healthy') || c.restarts > 0)) {
    const logs = await deployment.logs(container.service, 15).catch(() => '');
    process.stderr.write(`--- ${container.service}: ${container.status}${container.health ? `/${container.health}` : ''}, exit ${container.exitCode}, ${container.restarts} restarts\n${logs}`);
  }
} finally {
  await cleanUp();
  summary();
}
process.exit(failed > 0 ? 1 : 0);

/** Removes the project, its volumes and the image built, and stops the dockerd started; once. */
async function cleanUp() {
  cleanUp.done ??= step('clean up', async () => {
    try {
      await deployment.composeRun(['down', '-v', '--remove-orphans']).catch(() => undefined);
      for (const volume of leftAnonymous) await runCommand('docker', ['volume', 'rm', volume]).catch(() => undefined);
      const left = await deployment.volumes();
      if (left.length > 0) throw new Error(`volumes left behind: ${left.join(', ')}`);
      if (!keepImage) await removeImages(IMAGE, createdImages);
    } finally {
      await engine.stop();
    }
    return `project and volumes removed${keepImage ? '' : `, ${IMAGE} removed`}${engine.started ? ', dockerd stopped' : ''}`;
  }).catch((error) => process.stderr.write(`test:deploy: clean-up failed: ${error.message}\n`));
  return cleanUp.done;
}
