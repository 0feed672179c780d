// Test support for Correio: programs and fixtures as child processes, bounded waits, free ports,
// scratch directories, metrics read over HTTP, a seeded PRNG. For tests only (private; never a runtime dependency).
export { Child, killAll, type ExitStatus } from './Child.js';
export { spawnCommand, spawnProgram, programCommand, workspaceRoot, type SpawnOptions, type SpawnProgramOptions } from './spawnProgram.js';
export { freePort } from './freePort.js';
export { runExample, type ExampleRun } from './runExample.js';
export { scratchDir, type ScratchDir } from './scratchDir.js';
export { sleep, waitFor } from './waitFor.js';
export { readMetric } from './readMetric.js';
export { readinessField } from './readinessField.js';
export { seededRandom, randomInt } from './seededRandom.js';
export { argValue, argNumber, report } from './fixtureArgs.js';
