/**
 * What is wrong with a ZeroMQ endpoint, or undefined when nothing is: `tcp://host:port`,
 * `ws://host:port/path`, `ipc://path`, `inproc://name`. libzmq itself wraps an out-of-range port
 * (`tcp://127.0.0.1:99999` binds 34463), so the port is checked here.
 */
export function endpointProblem(value: string): string | undefined {
  if (!/^(tcp|ipc|inproc|ws|wss):\/\/.+/.test(value)) {
    return 'expected a ZeroMQ endpoint such as tcp://127.0.0.1:5555 or ipc:///tmp/correio.sock.';
  }
  const network = /^(?:tcp|ws|wss):\/\/(.*)$/.exec(value);
  if (!network) return undefined;
  const port = /:([^:\]/]*)(?:\/.*)?$/.exec(network[1]!)?.[1];
  const valid = port === '*' || (port !== undefined && /^\d{1,5}$/.test(port) && Number(port) <= 65_535);
  return valid ? undefined : `${JSON.stringify(value)} needs a port from 0 to 65535 (or * for any free port), such as tcp://127.0.0.1:5555.`;
}
