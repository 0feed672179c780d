import { projectConfig } from '../../vitest.shared.ts';

// End-to-end tests spawn the reference server and servers as processes on a 2-core machine:
// one file at a time, generous time-outs.
export default projectConfig({ testTimeout: 120_000, fileParallelism: false });
