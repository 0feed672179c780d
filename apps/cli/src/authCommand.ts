import { existsSync } from 'node:fs';
import { createKeySetIfMissing, DEFAULT_REFRESH_TTL_MS, liveKeys, readKeySet, rotateKeySet, signingKeyRecord } from '@correio/identity';
import { Command, envOption, parseDurationMs } from '@correio/observability';

const KEYS_ENV = 'CORREIO_AUTH_KEYS';

/**
 * `correio auth`: the signing key set that servers of one cluster share (docs/architecture.md,
 * "Identity and threat model"). `rotate-key` adds a new signing key and retires the others once
 * the tokens they signed have expired; servers reading the file pick the change up by themselves.
 */
export function authCommand(): Command {
  const auth = new Command('auth').description("manage the cluster's token signing keys (the servers' --auth-keys file)");
  auth
    .command('rotate-key')
    .description('add a new signing key; the current keys keep verifying until --retire-after has passed, then stop')
    .addOption(keysOption())
    .addOption(
      envOption('--retire-after <time>', 'how long the old keys keep verifying: at least the refresh-token lifetime', 'CORREIO_AUTH_RETIRE_AFTER')
        .argParser(parseDurationMs)
        .default(DEFAULT_REFRESH_TTL_MS, '7 days, the default refresh-token lifetime'),
    )
    .action(async (options: { keys: string; retireAfter: number }) => {
      requireKeySet(options.keys);
      const kid = await rotateKeySet(options.keys, options.retireAfter);
      process.stdout.write(`new signing key ${kid} in ${options.keys}\n`);
      printKeys(options.keys);
      process.stdout.write('servers reading this file pick it up within seconds (or at once on SIGHUP); copy it to every server of the cluster that has its own copy\n');
    });
  auth
    .command('keys')
    .description('list the key ids of a key set, which one signs and when each stops verifying (never the keys themselves)')
    .addOption(keysOption())
    .option('--create', 'create the key set with one key if the file does not exist')
    .action(async (options: { keys: string; create?: boolean }) => {
      if (options.create && (await createKeySetIfMissing(options.keys))) process.stdout.write(`created ${options.keys}\n`);
      requireKeySet(options.keys);
      printKeys(options.keys);
    });
  return auth;
}

function keysOption() {
  return envOption('--keys <file>', 'the key-set file (correio up makes <data-dir>/auth-keys.json)', KEYS_ENV).makeOptionMandatory();
}

function requireKeySet(path: string): void {
  if (!existsSync(path)) throw new Error(`no key set at ${path}: give the file the servers read with --auth-keys (correio auth keys --create makes one)`);
}

function printKeys(path: string): void {
  const now = Date.now();
  const set = readKeySet(path);
  const signing = signingKeyRecord(set, now);
  for (const key of liveKeys(set, now)) {
    const until = key.retire_at === undefined ? 'no end' : `until ${new Date(key.retire_at).toISOString()}`;
    process.stdout.write(`  ${key.kid}  made ${new Date(key.created_at).toISOString()}  verifies ${until}${key === signing ? '  (signs)' : ''}\n`);
  }
}
