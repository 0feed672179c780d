const LOCAL_ONLY = /^(ipc:\/\/|tcp:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]):)/;

/**
 * True for an endpoint that names this machine only (ipc://, or tcp:// on a loopback address):
 * handed to a process elsewhere, it would name that process's own machine instead.
 */
export function isLocalOnlyEndpoint(endpoint: string): boolean {
  return LOCAL_ONLY.test(endpoint);
}
