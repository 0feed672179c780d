import { projectConfig } from '../../vitest.shared.ts';

// End-to-end tests spawn many processes on a 2-core machine: one file at a time, generous time-outs.
export default projectConfig({ testTimeout: 90_000, fileParallelism: false });
