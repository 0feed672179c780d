// Hand-written seed bodies for the message vectors, one list per message type. The generator makes
// each seed a valid vector and derives boundary values and invalid mutations from the schema, so a
// seed should carry every optional field (the generator also removes each one). Keep them realistic.
import type { V1Value } from './vectors-format.js';

export interface Sample {
  readonly description: string;
  readonly body: { readonly [key: string]: V1Value };
}

const T0 = 1_700_000_000_000;
const OP = { origin: 'srv-1', seq: 7 };
const HLC = [T0, 3];

const LOGIN = { op: { origin: 'srv-1', seq: 1 }, lc: 10, hlc: [T0, 0], kind: 'login', data: { user: 'ana' } };
const CHANNEL_CREATE = { op: { origin: 'srv-2', seq: 4 }, lc: 11, hlc: [T0 + 5, 0], kind: 'channel.create', data: { user: 'ana', channel: 'general' } };
const PUBLISH = { op: { origin: 'srv-1', seq: 2 }, lc: 12, hlc: [T0 + 10, 1], kind: 'publish', data: { user: 'ana', channel: 'general', text: 'bom dia!' } };
const DIRECT = { op: { origin: 'srv-3', seq: 9 }, lc: 13, hlc: [T0 + 20, 0], kind: 'direct', data: { user: 'rui', to: 'ana', text: 'olá, Ana' } };

const HASH = { alg: 'scrypt', n: 32_768, r: 8, p: 1, salt: 'AAsWISw3Qk1YY255hI-apbC7xtHc5_L9CBMeKTQ_SlU', hash: '__jx6uPc1c7HwLmyq6Sdlo-IgXpzbGVeV1BJQjs0LSY' };
const REGISTER = { op: { origin: 'srv-1', seq: 3 }, lc: 14, hlc: [T0 + 30, 0], kind: 'register', data: { user: 'ana', hash: HASH } };
const PASSWORD = { op: { origin: 'srv-2', seq: 8 }, lc: 15, hlc: [T0 + 40, 0], kind: 'password', data: { user: 'ana', hash: HASH, under: { origin: 'srv-1', seq: 3 } } };
const LOGOUT = { op: { origin: 'srv-3', seq: 11 }, lc: 16, hlc: [T0 + 50, 2], kind: 'logout', data: { user: 'ana' } };
const CONFIG_DOC = '{"logLevel":"debug","concurrency":32}';
const LOG_RECORD = { program: 'gateway', instance: 'gw-1', boot: 'b7Qx2mZk', seq: 3, at: T0, level: 50, msg: 'request failed', request_id: 'req-42', fields: '{"status":502}' };
/** A job as the task queue holds it (revision 1.6): queued, then active, then finished. */
const TASK_QUEUED = {
  id: 'invoice:42',
  queue: 'email',
  task: 'email.send',
  args: { to: 'ana@example.com', template: 'receipt', lines: [1, '2.50', null] },
  state: 'queued',
  priority: 5,
  attempt: 0,
  max_attempts: 3,
  backoff_ms: 1_000,
  max_backoff_ms: 300_000,
  lease_ms: 30_000,
  result_ttl_ms: 86_400_000,
  run_at: T0,
  created_at: T0,
  updated_at: T0,
  version: 1,
};
const TASK_ACTIVE = { ...TASK_QUEUED, state: 'active', attempt: 2, worker: 'py-worker-1', lease_until: T0 + 30_000, progress: 50, error: { type: 'TimeoutError', message: 'smtp timed out' }, cancel_requested: true, updated_at: T0 + 5, version: 4 };
const TASK_WAITING = { ...TASK_QUEUED, id: 'order-7:charge', state: 'waiting', after: ['order-7:reserve'], then: ['order-7:ship', 'order-7:mail'], receives: 'result', schedule: 'nightly-report' };
const SCHEDULE = {
  name: 'nightly-report',
  cron: '0 30 2 * * *',
  queue: 'reports',
  task: 'report.build',
  args: { kind: 'daily' },
  priority: 3,
  max_attempts: 2,
  lease_ms: 60_000,
  result_ttl_ms: 604_800_000,
  created_at: T0,
  updated_at: T0 + 9,
  version: 4,
  last_tick: T0,
  next_tick: T0 + 86_400_000,
};
const TASK_DONE = { ...TASK_QUEUED, state: 'succeeded', attempt: 1, worker: 'go-worker-7', result: Uint8Array.of(0, 1, 255), finished_at: T0 + 9, updated_at: T0 + 9, version: 3 };
const CONFIG_SET = { op: { origin: 'srv-2', seq: 12 }, lc: 17, hlc: [T0 + 60, 0], kind: 'config.set', data: { program: 'server', version: 3, document: CONFIG_DOC, author: 'ana' } };
const CONFIG_ROLLBACK = {
  op: { origin: 'srv-2', seq: 13 },
  lc: 18,
  hlc: [T0 + 70, 1],
  kind: 'config.set',
  data: { program: 'server', instance: 'srv-1', version: 4, document: '{}', author: 'rui', rollback_of: 1 },
};

// Compact JWS tokens in the shape servers issue (real ones carry more claims: iss, aud, iat, exp, jti,
// cred); the signatures are made up: vectors check shapes, not signatures.
export const ACCESS_TOKEN =
  'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbmEiLCJ1c2UiOiJhY2Nlc3MifQ.ACVKb5S53gMoTXKXvOEGK1B1mr_kCS5TeJ3C5wwxVnugxeoPNFl-o8jtEjdcgabL8BU6X4SpzvMYPWKHrNH2Gw';
const REFRESH_TOKEN =
  'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbmEiLCJ1c2UiOiJyZWZyZXNoIn0.ACVKb5S53gMoTXKXvOEGK1B1mr_kCS5TeJ3C5wwxVnugxeoPNFl-o8jtEjdcgabL8BU6X4SpzvMYPWKHrNH2Gw';
const TOKENS = { token: ACCESS_TOKEN, refresh_token: REFRESH_TOKEN, expires_at: T0 + 900_000, refresh_expires_at: T0 + 604_800_000 };

const PUBLICATION = { op: OP, channel: 'general', user: 'ana', text: 'bom dia, pessoal!', lc: 42, hlc: HLC, ts: T0 };
const DIRECT_MESSAGE = { op: OP, from: 'ana', to: 'rui', text: 'olá, Rui 👋', lc: 42, hlc: HLC, ts: T0 };

export const VECTOR_SAMPLES: Readonly<Record<string, readonly Sample[]>> = {
  'chat.channel.create.reply': [
    { description: 'the request created the channel', body: { channel: 'general', created: true, created_by: 'ana', created_at: T0 } },
    { description: 'the channel already existed', body: { channel: 'general', created: false, created_by: 'rui', created_at: T0 - 60_000 } },
  ],
  'chat.channel.create.request': [
    { description: 'create a channel', body: { user: 'ana', channel: 'general' } },
    { description: 'create a channel as the user of the auth token', body: { channel: 'general' } },
  ],
  'chat.channels.reply': [
    {
      description: 'a page with a next cursor',
      body: {
        channels: [
          { channel: 'general', created_by: 'ana', created_at: T0 },
          { channel: 'random', created_by: 'rui', created_at: T0 + 500 },
        ],
        next: 'random',
      },
    },
    { description: 'the last page: no channels, no next', body: { channels: [] } },
  ],
  'chat.channels.request': [
    { description: 'a page after a cursor', body: { limit: 50, after: 'general' } },
    { description: 'the first page with the default size', body: {} },
  ],
  'chat.conversation.reply': [
    { description: 'a page of direct messages with a next cursor', body: { messages: [DIRECT_MESSAGE], next: 'c:1700000000000:srv-1:7' } },
    { description: 'the oldest page: no next', body: { messages: [] } },
  ],
  'chat.inbox.reply': [
    { description: 'a page of the direct messages sent to a user, with a next cursor (revision 1.2)', body: { messages: [DIRECT_MESSAGE], next: 'c:1700000000000:srv-1:7' } },
    { description: 'the oldest page: no next (revision 1.2)', body: { messages: [] } },
  ],
  'chat.inbox.request': [
    { description: 'an older page of an inbox (revision 1.2)', body: { user: 'rui', limit: 100, before: 'c:1700000000000:srv-1:7' } },
    { description: 'the latest page of the inbox of the auth token\'s user (revision 1.2)', body: {} },
  ],
  'chat.conversation.request': [
    { description: 'an older page of a conversation', body: { user: 'ana', peer: 'rui', limit: 100, before: 'c:1700000000000:srv-1:7' } },
    { description: 'the latest page', body: { user: 'ana', peer: 'rui' } },
    { description: 'the latest page with the user of the auth token', body: { peer: 'rui' } },
  ],
  'chat.direct': [{ description: 'a direct message', body: DIRECT_MESSAGE }],
  'chat.direct.reply': [{ description: 'the message was accepted', body: { op: OP, to: 'rui', lc: 42, ts: T0 } }],
  'chat.direct.request': [
    { description: 'send a direct message', body: { user: 'ana', to: 'rui', text: 'olá, Rui 👋' } },
    { description: 'send a direct message as the user of the auth token', body: { to: 'rui', text: 'olá, Rui 👋' } },
  ],
  'chat.history.reply': [
    { description: 'a page of publications with a next cursor', body: { messages: [PUBLICATION], next: 'h:1700000000000:srv-1:7' } },
    { description: 'the oldest page: no next', body: { messages: [] } },
  ],
  'chat.history.request': [
    { description: 'an older page of a channel', body: { channel: 'general', limit: 50, before: 'h:1700000000000:srv-1:7' } },
    { description: 'the latest page', body: { channel: 'general' } },
  ],
  'chat.login.reply': [
    { description: 'a first login', body: { user: 'ana', first_seen: T0, last_seen: T0, created: true } },
    { description: 'a returning user', body: { user: 'ana', first_seen: T0 - 86_400_000, last_seen: T0, created: false } },
    { description: 'a login with its tokens (revision 1.1)', body: { user: 'ana', first_seen: T0, last_seen: T0, created: true, ...TOKENS } },
  ],
  'chat.login.request': [
    { description: 'log a user in', body: { user: 'ana' } },
    { description: 'a user name with every allowed character class', body: { user: 'Ana_Maria-2.0' } },
    { description: 'log in with a password (revision 1.1)', body: { user: 'ana', password: 'correct horse battery staple' } },
  ],
  'chat.logout.reply': [{ description: 'the user is logged out everywhere', body: { user: 'ana', revoked_before: T0 + 50 } }],
  'chat.whoami.reply': [
    { description: 'an operator', body: { user: 'ana', roles: ['operator'], expires_at: T0 + 900_000 } },
    { description: 'an ordinary user', body: { user: 'rui', roles: [], expires_at: T0 + 900_000 } },
  ],
  'chat.whoami.request': [{ description: 'who is the auth token for', body: {} }],
  'chat.logout.request': [{ description: 'log the user of the auth token out', body: {} }],
  'chat.password.reply': [{ description: 'the password was changed', body: { user: 'ana', changed_at: T0 + 40 } }],
  'chat.password.request': [{ description: 'change the password', body: { password: 'correct horse battery staple', new_password: 'Tr0ub4dor&3 não é boa 🔑' } }],
  'chat.publication': [{ description: 'a publication', body: PUBLICATION }],
  'chat.publish.reply': [{ description: 'the publication was accepted', body: { op: OP, channel: 'general', lc: 42, ts: T0 } }],
  'chat.publish.request': [
    { description: 'publish to a channel', body: { user: 'ana', channel: 'general', text: 'bom dia, pessoal!' } },
    { description: 'publish as the user of the auth token', body: { channel: 'general', text: 'bom dia, pessoal!' } },
  ],
  'chat.refresh.reply': [{ description: 'fresh tokens', body: TOKENS }],
  'chat.refresh.request': [{ description: 'exchange a refresh token', body: { refresh_token: REFRESH_TOKEN } }],
  'chat.register.reply': [{ description: 'the user is registered', body: { user: 'ana', created_at: T0 + 30 } }],
  'chat.register.request': [{ description: 'register a user', body: { user: 'ana', password: 'correct horse battery staple' } }],
  'chat.users.reply': [
    {
      description: 'a page of users with a next cursor',
      body: {
        users: [
          { user: 'ana', first_seen: T0 - 86_400_000, last_seen: T0 },
          { user: 'rui', first_seen: T0, last_seen: T0 },
        ],
        next: 'rui',
      },
    },
    { description: 'the last page: no users, no next', body: { users: [] } },
  ],
  'chat.users.request': [
    { description: 'a page after a cursor', body: { limit: 20, after: 'ana' } },
    { description: 'the first page with the default size', body: {} },
  ],
  'clock.adjust.reply': [
    { description: 'the adjustment was applied', body: { round: 3, applied: true } },
    { description: 'the adjustment was refused', body: { round: 2, applied: false } },
  ],
  'clock.adjust.request': [
    { description: 'slow the clock down', body: { round: 3, adjust_ms: -250 } },
    { description: 'move the clock forward', body: { round: 3, adjust_ms: 1_200 } },
  ],
  'clock.poll.reply': [{ description: "the server's clock", body: { round: 3, time: T0 + 123 } }],
  'clock.poll.request': [{ description: 'poll a clock', body: { round: 3 } }],
  'election.coordinator': [{ description: 'a new coordinator', body: { server: 'srv-3', rank: 3, term: 2 } }],
  'election.election.reply': [
    { description: 'a higher-ranked server takes over', body: { server: 'srv-3', rank: 3, ok: true } },
    { description: 'a lower-ranked server answers', body: { server: 'srv-1', rank: 1, ok: false } },
  ],
  'election.election.request': [{ description: 'a candidate starts an election', body: { server: 'srv-2', rank: 2, term: 5 } }],
  error: [
    { description: 'a validation error with its path', body: { code: 'VALIDATION', message: '/body/user must match pattern', retryable: false, data: { path: '/body/user', keyword: 'pattern' } } },
    { description: 'a retryable error without data', body: { code: 'UNAVAILABLE', message: 'no worker for service chat', retryable: true } },
    { description: 'an empty message', body: { code: 'INTERNAL', message: '', retryable: true } },
    { description: 'a token that does not verify (revision 1.1)', body: { code: 'UNAUTHENTICATED', message: 'the token has expired: log in again or refresh it', retryable: false, data: { reason: 'expired' } } },
    { description: 'too many failed logins (revision 1.1)', body: { code: 'UNAUTHENTICATED', message: 'too many failed logins for ana: try again later', retryable: true, data: { reason: 'rate_limited', retry_after_ms: 42_000 } } },
    { description: 'acting as another user (revision 1.1)', body: { code: 'FORBIDDEN', message: 'the token is for ana; the body names rui', retryable: false, data: { user: 'rui' } } },
  ],
  'ref.heartbeat.reply': [
    { description: 'the server is alive and known', body: { alive: true, known: true } },
    { description: 'the server must register again', body: { alive: false, known: false } },
  ],
  // Three small seeds rather than one large one: every case repeats its seed, and this message has many fields.
  'gateway.dashboard': [
    {
      description: 'a server with every field',
      body: {
        at: T0,
        interval_ms: 1000,
        gateway: 'g1',
        coordinator: 's1',
        nodes: [
          {
            id: 's1',
            kind: 'server',
            state: 'up',
            status: 'ok',
            http: 'http://h:1',
            version: '1.0',
            uptime_ms: 9,
            rss_bytes: 9,
            cpu_permille: 8,
            rank: 1,
            role: 'coordinator',
            last_heartbeat: 7,
            clock_offset_us: -1,
            lamport: 4,
            requests: 9,
            errors: 1,
            store_ops: 2,
            store_bytes: 3,
            replication_lag_ops: 0,
            high_water_marks: [{ origin: 's1', seq: 7 }],
            recent_ops: [{ origin: 's1', seq: 7, kind: 'publish', at: 5, summary: 'ana in general' }],
          },
        ],
        services: [],
        events: [],
      },
    },
    {
      description: 'a service and an election, with every field',
      body: {
        at: T0,
        interval_ms: 990,
        gateway: 'g1',
        nodes: [],
        services: [{ name: 'chat', workers: 1, idle: 1, queue_depth: 0, in_flight: 0, requests: 9, errors: 1, p50_us: 850, p99_us: 4_200 }],
        events: [{ at: T0, kind: 'election', node: 's1', state: 'coordinator', term: 3, text: 's1 is coordinator' }],
      },
    },
    { description: 'a gateway that knows nothing yet', body: { at: T0, interval_ms: 0, gateway: 'g1', nodes: [], services: [], events: [] } },
  ],
  'ref.heartbeat.request': [{ description: 'a heartbeat', body: { server: 'srv-1', rank: 1 } }],
  'ref.membership': [
    { description: 'a server went down', body: { server: 'srv-2', rank: 2, state: 'down', at: T0 } },
    { description: 'a server came up', body: { server: 'srv-4', rank: 4, state: 'up', at: T0 + 1 } },
  ],
  'ref.register.reply': [{ description: "the server's rank", body: { server: 'srv-1', rank: 1 } }],
  'ref.register.request': [
    { description: 'register with an endpoint', body: { server: 'srv-1', endpoint: 'tcp://10.0.0.5:5555' } },
    { description: 'register with an endpoint and a monitoring URL', body: { server: 'srv-1', endpoint: 'tcp://10.0.0.5:5555', http: 'http://10.0.0.5:9110' } },
    { description: 'register without an endpoint', body: { server: 'srv-1' } },
    {
      description: 'register with a direct peer endpoint (revision 1.8)',
      body: { server: 'srv-1', endpoint: 'tcp://10.0.0.5:5555', http: 'http://10.0.0.5:9110', peer: 'tcp://10.0.0.5:5601' },
    },
  ],
  'ref.servers.reply': [
    {
      description: 'two servers and a coordinator',
      body: {
        servers: [
          { server: 'srv-1', rank: 1, alive: true, last_heartbeat: T0, endpoint: 'tcp://10.0.0.5:5555', http: 'http://10.0.0.5:9110' },
          { server: 'srv-2', rank: 2, alive: false, last_heartbeat: T0 - 9_000 },
        ],
        coordinator: 'srv-1',
      },
    },
    {
      description: 'servers with direct peer endpoints (revision 1.8)',
      body: {
        servers: [
          { server: 'srv-1', rank: 1, alive: true, last_heartbeat: T0, endpoint: 'tcp://10.0.0.5:5555', peer: 'tcp://10.0.0.5:5601' },
          { server: 'srv-2', rank: 2, alive: true, last_heartbeat: T0, peer: 'ipc:///run/correio/srv-2.peer' },
        ],
      },
    },
    { description: 'no servers, no coordinator', body: { servers: [] } },
  ],
  'ref.servers.request': [{ description: 'list the servers', body: {} }],
  'replica.apply.reply': [
    { description: 'all operations were new', body: { server: 'srv-2', applied: 4 } },
    { description: 'the peer already held them', body: { server: 'srv-3', applied: 0 } },
  ],
  'replica.apply.request': [
    { description: 'one publish operation', body: { ops: [PUBLISH] } },
    { description: 'operations of every kind', body: { ops: [LOGIN, CHANNEL_CREATE, PUBLISH, DIRECT] } },
  ],
  'replica.digest.reply': [
    {
      description: 'a digest over two origins',
      body: { server: 'srv-1', hwm: { 'srv-1': 12, 'srv-2': 0 }, hash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', ops: 12 },
    },
    {
      description: 'an empty log',
      body: { server: 'srv-3', hwm: {}, hash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', ops: 0 },
    },
  ],
  'config.changed': [
    { description: 'a kind-wide change', body: { program: 'server', version: 3, author: 'ana', at: T0 + 60 } },
    { description: 'one instance changed', body: { program: 'gateway', instance: 'gw-1', version: 1, author: 'rui', at: T0 } },
  ],
  'config.get.reply': [
    {
      description: 'an instance over its kind',
      body: { program: 'server', instance: 'srv-1', version: 2, document: '{"concurrency":8}', author: 'ana', at: T0, kind_version: 3, effective: '{"logLevel":"debug","concurrency":8}' },
    },
    { description: 'nothing set yet', body: { program: 'broker', version: 0, document: '{}', kind_version: 0, effective: '{}' } },
  ],
  'config.get.request': [
    { description: 'a kind', body: { program: 'broker' } },
    { description: 'an instance', body: { program: 'server', instance: 'srv-1' } },
  ],
  'config.history.reply': [
    {
      description: 'two versions, newest first',
      body: {
        program: 'server',
        versions: [
          { version: 2, document: '{"logLevel":"info"}', author: 'rui', at: T0 + 10, rollback_of: 1, op: { origin: 'srv-1', seq: 9 } },
          { version: 1, document: CONFIG_DOC, author: 'ana', at: T0, op: { origin: 'srv-3', seq: 4 } },
        ],
      },
    },
    { description: 'no versions', body: { program: 'proxy', instance: 'proxy-1', versions: [] } },
  ],
  'config.history.request': [
    { description: 'the newest versions', body: { program: 'server' } },
    { description: 'a page', body: { program: 'server', instance: 'srv-1', limit: 10, before_version: 11 } },
  ],
  'config.rollback.reply': [{ description: 'version 5 restores version 1', body: { program: 'server', instance: 'srv-1', version: 5, at: T0 } }],
  'config.rollback.request': [{ description: 'back to version 1', body: { program: 'server', to_version: 1, expected_version: 3 } }],
  'config.set.reply': [{ description: 'version 4 set', body: { program: 'server', version: 4, at: T0 } }],
  'config.set.request': [
    { description: 'the first document of a kind', body: { program: 'server', document: CONFIG_DOC, expected_version: 0 } },
    { description: 'an instance, against version 2', body: { program: 'gateway', instance: 'gw-1', document: '{"logLevel":"warn"}', expected_version: 2 } },
  ],
  'logs.copy.reply': [{ description: 'two lines stored', body: { server: 'srv-2', stored: 2 } }],
  'logs.copy.request': [{ description: 'a line copied to a peer', body: { lines: [LOG_RECORD] } }],
  'logs.digest.reply': [
    {
      description: 'two minutes held, more to come',
      body: { server: 'srv-1', floor: T0 - 86_400_000, buckets: [{ minute: 29_000_000, count: 12, hash: '0a1b2c3d' }, { minute: 29_000_001, count: 1, hash: 'ffffffff' }], next: T0 },
    },
    { description: 'nothing held', body: { server: 'srv-3', floor: 0, buckets: [] } },
  ],
  'logs.digest.request': [
    { description: 'from a time', body: { since: T0 - 3_600_000 } },
    { description: 'a window', body: { since: T0 - 3_600_000, until: T0 } },
  ],
  'logs.query.reply': [
    { description: 'one line and a cursor', body: { server: 'srv-1', lines: [LOG_RECORD], next: 'a:1733500000000:2' } },
    { description: 'nothing matched', body: { server: 'srv-2', lines: [] } },
  ],
  'logs.query.request': [
    { description: 'everything, oldest first', body: {} },
    { description: 'one request across programs', body: { request_id: 'req-42' } },
    { description: 'the warnings of one instance since a time, newest first', body: { program: 'server', instance: 'srv-1', level: 'warn', since: T0, until: T0 + 60_000, contains: 'peer', order: 'desc', limit: 50, after: 'd:1733500000000:7' } },
  ],
  'logs.ship.reply': [{ description: 'a batch stored', body: { stored: 2, duplicates: 0, refused: 0 } }],
  'logs.ship.request': [
    {
      description: 'two lines of a server',
      body: {
        program: 'server',
        instance: 'srv-1',
        boot: 'b7Qx2mZk',
        lines: [
          { seq: 1, at: T0, level: 30, msg: 'server ready' },
          { seq: 2, at: T0 + 5, level: 20, msg: 'committed', request_id: 'req-42', fields: '{"kind":"publish","seq":12}' },
        ],
      },
    },
    { description: 'an empty message', body: { program: 'gateway', instance: 'gw-1', boot: 'Zz09_-aaBB', lines: [{ seq: 7, at: T0, level: 40, msg: '' }] } },
  ],
  'replica.digest.request': [{ description: 'ask for a digest', body: {} }],
  'replica.fetch.reply': [
    { description: 'operations of every kind', body: { origin: 'srv-1', ops: [LOGIN, CHANNEL_CREATE, PUBLISH, DIRECT], high: 9 } },
    { description: 'nothing held from from_seq', body: { origin: 'srv-2', ops: [], high: 0 } },
  ],
  'replica.fetch.request': [
    { description: 'a bounded range', body: { origin: 'srv-1', from_seq: 5, to_seq: 9, limit: 100 } },
    { description: 'everything from a seq', body: { origin: 'srv-1', from_seq: 1 } },
  ],
  'replica.op': [
    { description: 'a login operation', body: LOGIN },
    { description: 'a channel.create operation', body: CHANNEL_CREATE },
    { description: 'a publish operation', body: PUBLISH },
    { description: 'a direct operation', body: DIRECT },
    { description: 'a register operation (revision 1.1)', body: REGISTER },
    { description: 'a password operation (revision 1.1)', body: PASSWORD },
    { description: 'a logout operation (revision 1.1)', body: LOGOUT },
    { description: 'a config.set operation (revision 1.4)', body: CONFIG_SET },
    { description: 'a config.set operation that rolls an instance back (revision 1.4)', body: CONFIG_ROLLBACK },
  ],
  'tasks.cancel.reply': [{ description: 'an active job marked for cancellation', body: { job: TASK_ACTIVE } }],
  'tasks.cancel.request': [{ description: 'cancel a job', body: { id: 'invoice:42' } }],
  'tasks.copy.reply': [{ description: 'two jobs newer than the copies held', body: { server: 'srv-2', stored: 2 } }],
  'tasks.copy.request': [
    { description: 'jobs in four states', body: { jobs: [TASK_QUEUED, TASK_ACTIVE, TASK_DONE, TASK_WAITING] } },
    { description: 'a schedule fired, and a removed one', body: { jobs: [], schedules: [SCHEDULE, { ...SCHEDULE, name: 'gone', removed: true }] } },
  ],
  'tasks.enqueue.reply': [
    { description: 'a new job', body: { job: TASK_QUEUED, created: true } },
    { description: 'the job of that id existed', body: { job: TASK_DONE, created: false } },
  ],
  'tasks.enqueue.request': [
    { description: 'the least: a queue and a task', body: { queue: 'default', task: 'noop' } },
    {
      description: 'every option',
      body: { queue: 'email', task: 'email.send', args: { to: 'ana@example.com' }, id: 'invoice:42', priority: 9, delay_ms: 60_000, run_at: T0 + 3_600_000, max_attempts: 5, backoff_ms: 2_000, max_backoff_ms: 60_000, lease_ms: 10_000, result_ttl_ms: 3_600_000 },
    },
    { description: 'positional arguments', body: { queue: 'math', task: 'add', args: [2, 3] } },
  ],
  'tasks.event': [
    { description: 'a job leased', body: { id: 'invoice:42', queue: 'email', task: 'email.send', state: 'active', attempt: 1, version: 2, at: T0, worker: 'ts-worker-1' } },
    { description: 'progress reported', body: { id: 'invoice:42', queue: 'email', task: 'email.send', state: 'active', attempt: 1, version: 2, at: T0, progress: { sent: 3, of: 10 } } },
    { description: 'an attempt failed, to be retried', body: { id: 'j-7', queue: 'default', task: 'noop', state: 'retrying', attempt: 2, version: 5, at: T0, error: { type: 'ValueError', message: 'bad input' } } },
  ],
  'tasks.flow.reply': [{ description: 'a chain enqueued', body: { id: 'order-7', ids: ['order-7:reserve', 'order-7:charge', 'order-7:ship'], created: true } }],
  'tasks.flow.request': [
    {
      description: 'a chain',
      body: {
        id: 'order-7',
        jobs: [
          { ref: 'reserve', queue: 'orders', task: 'stock.reserve', args: { sku: 'a-1', n: 2 } },
          { ref: 'charge', queue: 'payments', task: 'card.charge', after: ['reserve'], receives: 'result', max_attempts: 5 },
          { ref: 'ship', queue: 'orders', task: 'order.ship', after: ['charge'], args: { express: true } },
        ],
      },
    },
    {
      description: 'a chord: a group and its callback',
      body: {
        jobs: [
          { ref: 'p1', queue: 'math', task: 'square', args: 3, priority: 1, delay_ms: 0, backoff_ms: 100, max_backoff_ms: 1_000, lease_ms: 5_000, result_ttl_ms: 60_000 },
          { ref: 'p2', queue: 'math', task: 'square', args: 4 },
          { ref: 'sum', queue: 'math', task: 'sum', after: ['p1', 'p2'], receives: 'results' },
        ],
      },
    },
  ],
  'tasks.get.reply': [{ description: 'a finished job with its result', body: { job: TASK_DONE } }],
  'tasks.get.request': [
    { description: 'the state now', body: { id: 'invoice:42' } },
    { description: 'wait up to 10 s for the result', body: { id: 'invoice:42', wait_ms: 10_000 } },
  ],
  'tasks.schedule.reply': [{ description: 'a schedule set', body: { schedule: SCHEDULE } }],
  'tasks.schedule.request': [
    { description: 'every five minutes', body: { name: 'cleanup', cron: '*/5 * * * *', queue: 'default', task: 'cleanup' } },
    { description: 'every option', body: { name: 'nightly-report', cron: '0 30 2 * * *', queue: 'reports', task: 'report.build', args: { kind: 'daily' }, priority: 3, max_attempts: 2, lease_ms: 60_000, result_ttl_ms: 604_800_000 } },
  ],
  'tasks.schedules.reply': [
    { description: 'one schedule', body: { schedules: [SCHEDULE] } },
    { description: 'none', body: { schedules: [] } },
  ],
  'tasks.schedules.request': [{ description: 'every schedule', body: {} }],
  'tasks.route.request': [{ description: 'where the coordinator is', body: {} }],
  'tasks.route.reply': [
    { description: 'a coordinator with a direct endpoint', body: { coordinator: 's1', endpoint: 'tcp://10.0.0.5:5601' } },
    { description: 'a coordinator reached through the broker only', body: { coordinator: 's2' } },
  ],
  'tasks.unschedule.reply': [{ description: 'removed', body: { removed: true } }],
  'tasks.unschedule.request': [{ description: 'remove a schedule', body: { name: 'cleanup' } }],
  'tasks.heartbeat.reply': [
    {
      description: 'one lease held, one lost, one to cancel',
      body: { leases: [{ id: 'a', attempt: 1, held: true, cancel: false, lease_until: T0 + 30_000 }, { id: 'b', attempt: 2, held: false, cancel: false }, { id: 'c', attempt: 1, held: true, cancel: true, lease_until: T0 + 30_000 }] },
    },
  ],
  'tasks.heartbeat.request': [{ description: 'two leases, one with progress', body: { worker: 'ts-worker-1', leases: [{ id: 'a', attempt: 1 }, { id: 'b', attempt: 2, progress: 25 }] } }],
  'tasks.lease.reply': [
    { description: 'a job leased', body: { jobs: [TASK_ACTIVE] } },
    { description: 'nothing became due in time', body: { jobs: [] } },
  ],
  'tasks.lease.request': [
    { description: 'one job now', body: { worker: 'ts-worker-1', queues: ['default'] } },
    { description: 'a long poll for up to 10 jobs', body: { worker: 'go-worker-7', queues: ['email', 'default'], max: 10, wait_ms: 25_000 } },
  ],
  'tasks.list.reply': [
    { description: 'a page and the counts', body: { server: 'srv-1', jobs: [TASK_QUEUED], next: 'invoice:42', counts: { email: { queued: 1, succeeded: 12 }, default: { dead: 2 } } } },
    { description: 'nothing held', body: { server: 'srv-3', jobs: [], counts: {} } },
  ],
  'tasks.list.request': [
    { description: 'everything', body: {} },
    { description: 'the dead letters of a queue, a page on', body: { queue: 'email', state: 'dead', limit: 50, after: 'invoice:41' } },
  ],
  'tasks.purge.reply': [
    { description: 'all purged', body: { purged: 120, more: false } },
    { description: 'a thousand purged, more remain', body: { purged: 1000, more: true } },
  ],
  'tasks.purge.request': [
    { description: 'every waiting job of a queue', body: { queue: 'email' } },
    { description: 'the dead letters of a queue', body: { queue: 'email', state: 'dead' } },
  ],
  'tasks.retry.reply': [{ description: 'queued again', body: { job: TASK_QUEUED } }],
  'tasks.retry.request': [{ description: 'replay a dead letter', body: { id: 'invoice:42' } }],
  'tasks.settle.reply': [
    { description: 'the finished job', body: { job: TASK_DONE } },
    { description: 'the finished job and the job its lease took (revision 1.7)', body: { job: TASK_DONE, jobs: [TASK_ACTIVE] } },
  ],
  'tasks.settle.request': [
    { description: 'succeeded with a result', body: { worker: 'go-worker-7', id: 'invoice:42', attempt: 1, outcome: 'succeeded', result: { ok: true } } },
    { description: 'failed for good', body: { worker: 'py-worker-1', id: 'j-7', attempt: 2, outcome: 'failed', error: { type: 'ValueError', message: 'bad input' }, retry: false } },
    { description: 'given back at shutdown', body: { worker: 'ts-worker-1', id: 'j-8', attempt: 1, outcome: 'released' } },
    {
      description: 'succeeded, and lease the next job (revision 1.7)',
      body: { worker: 'ts-worker-1', id: 'j-9', attempt: 1, outcome: 'succeeded', result: 9, lease: { queues: ['email', 'default'], max: 1 } },
    },
  ],
  'service.announce': [
    {
      description: 'an instance is up',
      body: { service: 'users', version: 2, instance: 'users-1', state: 'up', actions: ['users.get', 'users.create'], events: ['user.created'], at: T0 },
    },
    { description: 'an instance is leaving', body: { service: 'mail.outbound', version: 1, instance: 'mail-7', state: 'down', actions: [], events: [], at: T0 } },
  ],
  'service.call.reply': [
    { description: 'a map result', body: { result: { id: 7, name: 'Ana', tags: ['admin'], manager: null } } },
    { description: 'no result', body: {} },
    { description: 'a binary result: any-typed payloads may carry binary', body: { result: Uint8Array.of(0, 1, 2, 254, 255) } },
    { description: 'a nil result', body: { result: null } },
    { description: 'a scalar result', body: { result: -42 } },
  ],
  'service.call.request': [
    { description: 'a call with params and meta', body: { action: 'users.get', params: { id: 7, fields: ['name', 'email'] }, meta: { trace_id: '4bf92f3577b34da6', 'x.tenant': 'acme' } } },
    { description: 'a call without params', body: { action: 'users.list' } },
    { description: 'binary params', body: { action: 'files.put', params: { name: 'a.bin', data: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) } } },
    { description: 'a three-segment service', body: { action: 'billing.eu.invoices.create', params: [1, 'two', true] } },
  ],
  'service.emit.reply': [{ description: 'the event was handled', body: { instance: 'mailer-2' } }],
  'service.emit.request': [
    { description: 'deliver an event with data to one group', body: { event: 'user.created', data: { id: 7, email: 'ana@example.com' }, group: 'mailer', sender: 'users-1' } },
    { description: 'deliver an event without data', body: { event: 'cache.flushed', group: 'cache.l2', sender: 'cache-2' } },
  ],
  'service.event': [
    { description: 'an event for one group', body: { event: 'user.created', data: { id: 7 }, group: 'mailer', sender: 'users-1' } },
    { description: 'an event without data', body: { event: 'cache.flushed', sender: 'cache-2' } },
  ],
};
