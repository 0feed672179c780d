import { projectConfig } from '../../vitest.shared.ts';

// The tests start brokers, proxies and client processes on a 2-core machine: one file at a time, generous time-outs.
export default projectConfig({ testTimeout: 60_000, fileParallelism: false });
