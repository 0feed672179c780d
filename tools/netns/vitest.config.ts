import { projectConfig } from '../../vitest.shared.ts';

// One multi-host topology of separate processes on a 2-core machine: generous time-outs.
export default projectConfig({ testTimeout: 180_000, fileParallelism: false });
