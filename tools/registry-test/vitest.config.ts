import { projectConfig } from '../../vitest.shared.ts';

// One registry, one install, shared by every test of the file.
export default projectConfig({ testTimeout: 120_000, fileParallelism: false });
