/** WebSocket close codes the gateway uses (1000–1015 from RFC 6455/IANA, 4000–4999 its own). */
export const CLOSE = {
  /** The gateway failed handling a message (a bug): reconnect and resume. */
  internalError: 1011,
  /** The gateway is draining (SIGTERM): reconnect, to another gateway or this one restarted, and resume. */
  serviceRestart: 1012,
  /** A message that is not JSON, not an object, or not one the stream knows. */
  badMessage: 4400,
  /** No valid auth message in time, a refused token, or the token expired: log in or refresh, reconnect. */
  unauthenticated: 4401,
  /** A valid token without the role the endpoint needs: /v1/dashboard is for operators only. */
  forbidden: 4403,
  /** The socket read too slowly: its send queue passed the limit. Counted under this code; the connection is cut (the client sees 1006). Reconnect and resume. */
  tooSlow: 4408,
  /** Too many messages, or too many channels on one socket. */
  tooMany: 4429,
} as const;
