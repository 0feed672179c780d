// The image's entry point. Started as root (the image's default user), it gives the data directories
// named by the environment to the `node` user, then drops to `node` and runs the correio command in
// this same process (signals and exit codes are the program's own). Docker creates a volume's mount
// point root-owned when the image lacks that path (a server with any id, a bind mount), and `node`
// could not write its store there. Started as another user (`docker run --user`, Kubernetes
// runAsNonRoot with an fsGroup), it changes nothing of the kind and runs the command as that user.
//
// For `server` with CORREIO_AUTH_KEYS naming a file in an existing directory (the volume the servers
// share), it also makes the cluster's signing key set when there is none yet, as `correio up` does
// before it starts the servers: the first server to start makes it (atomically), the others read it.
// The server itself insists that a key file given explicitly exists, so that a typo cannot split the
// cluster's keys; here the directory must exist, so a typo still fails.
import { chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

const RUNTIME_USER = 'node';
// The official node images' `node` user and group (tools/docker/build-base-image.sh makes the same).
const RUNTIME_UID = 1000;
const RUNTIME_GID = 1000;
const { CORREIO_REF_DATA_DIR, CORREIO_SERVER_DATA_DIR, CORREIO_UP_DATA_DIR, CORREIO_AUTH_KEYS } = process.env;
const keysDir = CORREIO_AUTH_KEYS ? dirname(CORREIO_AUTH_KEYS) : undefined;

function giveToRuntimeUser(dir, { create }) {
  try {
    if (create) mkdirSync(dir, { recursive: true });
    else if (!existsSync(dir)) return;
    // Only the directory itself: what the program writes inside is already the runtime user's.
    const { uid, gid } = statSync(dir);
    if (uid !== RUNTIME_UID || gid !== RUNTIME_GID) chownSync(dir, RUNTIME_UID, RUNTIME_GID);
  } catch (error) {
    // Read-only or squashed mounts: the program reports what it cannot write, naming the path.
    process.stderr.write(`entrypoint: cannot give ${dir} to ${RUNTIME_USER}: ${error.message}\n`);
  }
}

if (process.getuid?.() === 0) {
  for (const dir of new Set([CORREIO_REF_DATA_DIR, CORREIO_SERVER_DATA_DIR, CORREIO_UP_DATA_DIR].filter(Boolean))) giveToRuntimeUser(dir, { create: true });
  if (keysDir) giveToRuntimeUser(keysDir, { create: false });
  process.initgroups(RUNTIME_USER, RUNTIME_GID);
  process.setgid(RUNTIME_GID);
  process.setuid(RUNTIME_UID);
  process.env.HOME = `/home/${RUNTIME_USER}`;
  process.env.USER = RUNTIME_USER;
}

if (process.argv[2] === 'server' && CORREIO_AUTH_KEYS && existsSync(keysDir)) {
  const { createKeySetIfMissing } = await import('@correio/identity');
  if (await createKeySetIfMissing(CORREIO_AUTH_KEYS)) process.stderr.write(`entrypoint: made the cluster's signing key set ${CORREIO_AUTH_KEYS}\n`);
}

await import('./apps/cli/dist/main.js');
