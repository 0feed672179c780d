import { CorreioError } from '@correio/codec';

/** Where the client talks to, for messages that tell the user what to start. */
export interface Endpoints {
  readonly broker: string;
  /** The proxy's subscriber (XPUB) side. */
  readonly proxy?: string;
  /** The broker service serving chat requests (`chat`, or `srv.<id>` for one server). */
  readonly service: string;
}

export function brokerDownMessage(endpoint: string): string {
  return `cannot reach the broker at ${endpoint}: is it running? Start it with: npx correio broker --endpoint ${bindable(endpoint)}`;
}

export function proxyDownMessage(endpoint: string): string {
  return (
    `cannot reach the proxy at ${endpoint}: live messages will arrive once it is running. ` +
    `Start it with: npx correio proxy --subscribers ${bindable(endpoint)}`
  );
}

function noServerMessage(endpoints: Endpoints, why: string): string {
  return `${why}: is a chat server running and connected to the broker at ${endpoints.broker}? Start one with: npx correio server --id srv-1 --data-dir ./data/srv-1 --broker ${endpoints.broker}`;
}

/** True when a request failed because the broker itself could not be reached (not a reply from it). */
export function isBrokerUnreachable(error: CorreioError): boolean {
  return error.code === 'UNAVAILABLE' && Array.isArray(error.data?.['endpoints']);
}

/**
 * One line saying what went wrong and what to do about it, for the terminal and for the JSON
 * `error` events. Connection problems name the endpoint and the program to start.
 */
export function describeFailure(error: unknown, endpoints: Endpoints): string {
  const failure = CorreioError.from(error);
  switch (failure.code) {
    case 'UNAVAILABLE':
      if (isBrokerUnreachable(failure)) {
        const handshake = failure.data?.['handshake'];
        return handshake === undefined ? brokerDownMessage(endpoints.broker) : `the broker at ${endpoints.broker} refused the connection: ${failure.message}`;
      }
      return noServerMessage(endpoints, `no chat server is available (${failure.message})`);
    case 'UNKNOWN_SERVICE':
      return noServerMessage(endpoints, `the broker at ${endpoints.broker} knows no service ${endpoints.service}`);
    case 'TIMEOUT':
      return noServerMessage(endpoints, `no reply from service ${endpoints.service} in time (${failure.message})`);
    case 'OVERLOADED':
      return `the chat service is overloaded, try again in a moment (${failure.message})`;
    default:
      return failure.message;
  }
}

/**
 * What to tell a user whose registration or login was refused, or undefined when the failure is
 * not about the credentials (the broker is down, say). The server gives one message for an unknown
 * user and a wrong password, on purpose, and so does this.
 */
export function describeLoginFailure(error: CorreioError, attempt: { readonly user: string; readonly password: boolean; readonly register: boolean }): string | undefined {
  switch (error.code) {
    case 'CONFLICT':
      return attempt.register ? `the user name ${attempt.user} is taken: log in without --register (with its password), or pick another name` : undefined;
    case 'UNAUTHENTICATED':
      if (error.retryable) return `too many failed logins for ${attempt.user}: ${error.message}`;
      if (!attempt.password) return `this server needs a password to log in as ${attempt.user}: pass --password or set CORREIO_PASSWORD (a new user adds --register) (${error.message})`;
      return `wrong user name or password for ${attempt.user} (a new user registers first: add --register)`;
    case 'BAD_REQUEST':
    case 'VALIDATION':
      return error.message;
    default:
      return undefined;
  }
}

/** The endpoint a server would bind for clients that connect to `endpoint` (localhost stays as is). */
function bindable(endpoint: string): string {
  const match = /^tcp:\/\/([^:/]+):(\d+)$/.exec(endpoint);
  if (!match) return endpoint;
  const host = match[1]!;
  return host === '127.0.0.1' || host === 'localhost' ? endpoint : `tcp://*:${match[2]!}`;
}
