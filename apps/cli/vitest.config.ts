import { projectConfig } from '../../vitest.shared.ts';

// The end-to-end tests run `correio up` (eight processes) on a 2-core machine: one file at a time,
// generous time-outs.
export default projectConfig({ testTimeout: 120_000, fileParallelism: false });
