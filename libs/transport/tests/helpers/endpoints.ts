import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Transport = 'tcp' | 'ipc' | 'inproc';
export const TRANSPORTS: readonly Transport[] = ['tcp', 'ipc', 'inproc'];
/** Transports that reconnect and report connection events (inproc does neither). */
export const NETWORK_TRANSPORTS: readonly Transport[] = ['tcp', 'ipc'];

/** A bind address for the transport: tcp picks a free port on 127.0.0.1 (resolve with the bound endpoint). */
export function bindAddress(transport: Transport, name = 'test'): string {
  const suffix = randomBytes(6).toString('hex');
  switch (transport) {
    case 'tcp':
      return 'tcp://127.0.0.1:*';
    case 'ipc':
      return `ipc://${join(tmpdir(), `correio-${name}-${suffix}.sock`)}`;
    case 'inproc':
      return `inproc://correio-${name}-${suffix}`;
  }
}
