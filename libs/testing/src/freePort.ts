import { createServer } from 'node:net';

/**
 * A 127.0.0.1 TCP port that was free a moment ago, for a program that must come back on the same
 * port after a restart (anything else should bind port 0 and read the port it got).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('the probe server has no TCP address'))));
    });
  });
}
