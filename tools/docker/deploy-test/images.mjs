// The images of the deploy test: the base image (built locally when it is the default and missing,
// then kept as a cache) and the Correio image (built from the working tree, removed afterwards).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, lstatSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './engine.mjs';

export const LOCAL_BASE_IMAGE = 'correio-node:20-local';
const PROXY_VARIABLES = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];

async function exists(image) {
  try {
    await runCommand('docker', ['image', 'inspect', image], { timeoutMs: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/** The base image to build on; builds correio-node:20-local when it is the one asked for and missing. */
export async function ensureBaseImage({ root, image, logFile }) {
  if (await exists(image)) return { image, built: false };
  if (image !== LOCAL_BASE_IMAGE) throw new Error(`the base image ${image} (CORREIO_NODE_IMAGE) is not present: pull or build it first`);
  await runToLog('nice', ['-n', '19', 'bash', join(root, 'tools/docker/build-base-image.sh'), image], { logFile });
  return { image, built: true };
}

/**
 * Builds the Correio image from the working tree: the files git tracks or would track (so no
 * node_modules, dist or caches, with either the legacy builder or BuildKit), on `--network host`
 * (a proxy on the host's loopback stays reachable). Returns the ids of the images it created.
 */
export async function buildImage({ root, image, baseImage, logFile }) {
  const before = new Set(await imageIds());
  const args = ['build', '--network', 'host', '-f', 'tools/docker/Dockerfile', '-t', image, '--build-arg', `NODE_IMAGE=${baseImage}`];
  // The local base image carries this machine's trust store (a proxy's CA included).
  if (baseImage === LOCAL_BASE_IMAGE) args.push('--build-arg', 'NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt');
  for (const variable of PROXY_VARIABLES) if (process.env[variable]) args.push('--build-arg', `${variable}=${process.env[variable]}`);
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\0')
    .filter((file) => file && present(join(root, file)));
  await runToLog('docker', [...args, '-'], { logFile, context: { root, files } });
  return [...(await imageIds())].filter((id) => !before.has(id));
}

/** Removes the images a build created (the tagged one and its intermediate stages). */
export async function removeImages(image, ids) {
  await runCommand('docker', ['image', 'rm', '-f', image]).catch(() => undefined);
  for (const id of ids.reverse()) await runCommand('docker', ['image', 'rm', '-f', id]).catch(() => undefined);
}

async function imageIds() {
  return (await runCommand('docker', ['images', '-aq', '--no-trunc'])).split('\n').filter(Boolean);
}

function present(path) {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command with its output in logFile; with `context`, a tar of those files on its stdin. */
function runToLog(command, args, { logFile, context }) {
  return new Promise((resolve, reject) => {
    let stdin = 'ignore';
    if (context) {
      const tar = spawn('tar', ['-c', '--null', '-T', '-'], { cwd: context.root, stdio: ['pipe', 'pipe', 'inherit'] });
      tar.once('error', reject);
      tar.stdin.end(context.files.join('\0'));
      stdin = tar.stdout;
    }
    const log = openSync(logFile, 'a');
    const child = spawn(command, args, { stdio: [stdin, log, log] });
    closeSync(log);
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.slice(0, 2).join(' ')} failed (${code ?? signal}); see ${logFile}`))));
  });
}
