// Preloaded into every program a test spawns (programCommand): the program stops when the process
// that spawned it is gone — a test runner killed by a time-out, say — instead of living on,
// reparented, holding its ports. A SIGTERM first (a clean shutdown), then an exit if that hangs.
const parent = process.ppid;
const CHECK_MS = 1_000;
const GRACE_MS = 10_000;

const watch = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(watch);
  setTimeout(() => process.exit(70), GRACE_MS).unref();
  process.kill(process.pid, 'SIGTERM');
}, CHECK_MS);
watch.unref();
