import { MESSAGE_INFO, type MessageType } from '@correio/protocol';

/** One HTTP route that is one chat request: its body is the request body, built from path, query and JSON. */
export interface ChatRoute {
  readonly method: 'GET' | 'POST';
  /** Fastify syntax: `:name` parameters are body properties of the same name. */
  readonly url: string;
  readonly type: MessageType;
  readonly summary: string;
  /** The broker service it goes to; the chat service when absent. */
  readonly service?: string;
  /** Served without a token (register, login, refresh). */
  readonly anonymous?: boolean;
  /** The success status; 200 when absent. */
  readonly status?: number;
  /** The reply may wait up to the body's `wait_ms` (a long poll): the upstream time-out is stretched by it. */
  readonly longPoll?: boolean;
}

/**
 * The chat API. Every route whose message type the protocol package knows is served; the others
 * (revision 1.1 types against a 1.0 protocol package) are left out, so the gateway follows
 * libs/protocol without a change of its own.
 */
const CHAT_ROUTES: readonly (Omit<ChatRoute, 'type'> & { readonly type: string })[] = [
  { method: 'POST', url: '/v1/register', type: 'chat.register.request', summary: 'Register a user with a password', anonymous: true, status: 201 },
  { method: 'POST', url: '/v1/login', type: 'chat.login.request', summary: 'Log in: get an access token and a refresh token', anonymous: true },
  { method: 'POST', url: '/v1/refresh', type: 'chat.refresh.request', summary: 'Trade a refresh token for fresh tokens', anonymous: true },
  { method: 'POST', url: '/v1/logout', type: 'chat.logout.request', summary: 'Revoke every token of the caller issued before now' },
  { method: 'POST', url: '/v1/password', type: 'chat.password.request', summary: "Change the caller's password (revokes older tokens)" },
  { method: 'GET', url: '/v1/users', type: 'chat.users.request', summary: 'One page of users, in name order' },
  { method: 'GET', url: '/v1/channels', type: 'chat.channels.request', summary: 'One page of channels, in name order' },
  { method: 'POST', url: '/v1/channels', type: 'chat.channel.create.request', summary: 'Create a channel (created: false when it exists)' },
  { method: 'POST', url: '/v1/channels/:channel/messages', type: 'chat.publish.request', summary: 'Publish a text to a channel' },
  { method: 'GET', url: '/v1/channels/:channel/messages', type: 'chat.history.request', summary: "One page of a channel's publications, newest page first" },
  { method: 'POST', url: '/v1/users/:to/messages', type: 'chat.direct.request', summary: 'Send a direct message' },
  { method: 'GET', url: '/v1/conversations/:peer', type: 'chat.conversation.request', summary: 'One page of the direct messages with a peer, newest page first' },
  { method: 'GET', url: '/v1/inbox', type: 'chat.inbox.request', summary: 'One page of the direct messages sent to the caller, from anyone, newest page first' },
  { method: 'GET', url: '/v1/logs', type: 'logs.query.request', service: 'logs', summary: "One page of the cluster's central logs (operators only), filtered by program, instance, level, time, text or request id" },
  // The task queues (revision 1.6), served by the cluster's coordinator. Static paths (schedules,
  // purge) win over `:id` in the router: a job whose id is one of those words is read with the CLI.
  { method: 'GET', url: '/v1/tasks', type: 'tasks.list.request', service: 'tasks', summary: 'One page of jobs, of one queue and/or state, in id order, with the counts per queue and state' },
  { method: 'GET', url: '/v1/tasks/schedules', type: 'tasks.schedules.request', service: 'tasks', summary: 'The periodic schedules, with their next ticks' },
  { method: 'GET', url: '/v1/tasks/:id', type: 'tasks.get.request', service: 'tasks', longPoll: true, summary: "A job's state; with wait_ms, waits up to that long for it to finish" },
  { method: 'POST', url: '/v1/tasks', type: 'tasks.enqueue.request', service: 'tasks', summary: 'Enqueue a job (idempotent when the body names its id)' },
  { method: 'POST', url: '/v1/tasks/purge', type: 'tasks.purge.request', service: 'tasks', summary: "Cancel a queue's waiting jobs (or its dead letters), 1,000 a request" },
  { method: 'POST', url: '/v1/tasks/:id/retry', type: 'tasks.retry.request', service: 'tasks', summary: 'Replay a dead or cancelled job' },
  { method: 'POST', url: '/v1/tasks/:id/cancel', type: 'tasks.cancel.request', service: 'tasks', summary: 'Cancel a job (an active one when its worker next heartbeats)' },
];

/** The chat routes this protocol package can serve. */
export function chatRoutes(): ChatRoute[] {
  return CHAT_ROUTES.filter((route): route is ChatRoute => route.type in MESSAGE_INFO);
}

/** The names of a route's path parameters, in order. */
export function pathParameters(url: string): string[] {
  return [...url.matchAll(/:([A-Za-z_]+)/g)].map((match) => match[1]!);
}

/** A Fastify route URL in OpenAPI syntax (`{name}`). */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z_]+)/g, '{$1}');
}
