/** Set by `correio up` on its children: their stdin is a pipe from it. */
export const SUPERVISED_ENV = 'CORREIO_SUPERVISED';

/**
 * A child of `correio up` shuts itself down when its supervisor is gone, even if the supervisor
 * was killed outright (SIGKILL gives it no chance to stop its children): the supervisor holds the
 * write end of the child's stdin, so the child reads end-of-file the moment it dies. No orphans.
 */
export function watchSupervisor(): void {
  if (process.env[SUPERVISED_ENV] !== '1') return;
  let fired = false;
  const supervisorGone = (): void => {
    if (fired) return;
    fired = true;
    process.kill(process.pid, 'SIGTERM');
  };
  process.stdin.on('end', supervisorGone);
  process.stdin.on('close', supervisorGone);
  process.stdin.on('error', supervisorGone);
  process.stdin.resume();
  // Watching must never be what keeps the program alive.
  (process.stdin as { unref?: () => void }).unref?.();
}
