import { join } from 'node:path';
import { workspaceRoot } from '@correio/testing';

/** The entry point of a TypeScript app, run from its sources under tsx. */
export function appMain(app: 'broker' | 'proxy' | 'ref' | 'server'): string {
  return join(workspaceRoot, 'apps', app, 'src', 'main.ts');
}

/** The Python reference peer; its programs run as `python -m interop.<name>` from here. */
export const pythonPeerDir = join(workspaceRoot, 'peers', 'python');

/** The virtual environment `npm run setup:peers` creates (tools/scripts/setup-peers.sh). */
export const pythonExecutable = join(workspaceRoot, '.venv', 'bin', 'python');

/** The Go reference peer (module correio.dev/peers/go). */
export const goPeerDir = join(workspaceRoot, 'peers', 'go');

/** The Rust reference peer (crate correio); its programs are built into target/release. */
export const rustPeerDir = join(workspaceRoot, 'peers', 'rust');
