import { join, resolve } from 'node:path';
import type { CorreioConfig } from '../config/loadConfig.js';
import type { SectionName } from '../programs.js';
import { BOT_READY, programReady, type Readiness } from './readiness.js';
import type { ComponentSpec } from './SupervisedChild.js';

/** Where and how big the local topology is. */
export interface TopologySettings {
  readonly servers: number;
  readonly bots: number;
  /** Every component binds and is reached here. */
  readonly host: string;
  /** Let the OS choose every port; the components' readiness lines say which. */
  readonly freePorts: boolean;
  readonly brokerPort: number;
  readonly publishersPort: number;
  readonly subscribersPort: number;
  /** The gateway's HTTP port (its /health and /metrics are served there too); 8080 when absent. */
  readonly gatewayPort?: number;
  /** HTTP side ports: broker +0, proxy +1, ref +2, gateway +3, server i +10+i. */
  readonly httpPortBase: number;
  /** Each component's data directory goes under it. */
  readonly dataDir: string;
  /**
   * `password` (default): the servers require tokens from password logins, signed with the key
   * set at `authKeys` that they all share. `open`: anyone who can reach the broker acts as any user.
   */
  readonly auth?: AuthMode;
  /** The signing key-set file every server shares (in both modes); `<dataDir>/auth-keys.json` when absent. */
  readonly authKeys?: string;
  /** How long `up` runs, when bounded: bots are told to run a little longer, and are stopped with everything else. */
  readonly durationMs?: number;
  /** CORREIO_LOG_LEVEL for every component, when given. */
  readonly logLevel?: string;
  /**
   * A testing aid: start the servers' clocks spread evenly over ±clockSkewMs (srv-1 behind, srv-N
   * ahead), to watch the Berkeley rounds pull them together in the summary's clock spread.
   */
  readonly clockSkewMs?: number;
  readonly config?: CorreioConfig;
}

export type AuthMode = 'password' | 'open';

/** The key-set file `up` makes for its servers when none is given. */
export const AUTH_KEYS_FILE = 'auth-keys.json';

/** The endpoints the components reach each other on, learnt from readiness lines when the OS chose the ports. */
export interface Wiring {
  broker: string;
  publishers: string;
  subscribers: string;
  /** Where broker, proxy and ref serve /health and /metrics, for the gateway's dashboard. */
  monitoring: Partial<Record<MonitoredProgram, string>>;
}

/** The components the gateway's dashboard watches by URL (the servers it finds through the ref). */
type MonitoredProgram = 'broker' | 'proxy' | 'ref';
const MONITORED: readonly MonitoredProgram[] = ['broker', 'proxy', 'ref'];

/** Who may open the gateway's dashboard unless the config or the environment says otherwise: the user the log-in hint names. */
export const DEFAULT_OPERATOR = 'ana';

/** The offsets of the HTTP side ports from `httpPortBase`. */
export const HTTP_PORT_OFFSETS = { broker: 0, proxy: 1, ref: 2, gateway: 3, server: (index: number) => 10 + index } as const;

/** A bot that is not told otherwise runs this long (seconds): until `up` stops it, in practice. */
const UNBOUNDED_BOT_SECONDS = 1_000_000;

/**
 * The local topology of `correio up` — broker and proxy, the reference server, N chat servers,
 * M traffic bots — as components in start order: each stage starts once the previous one is
 * ready. Every component is configured the way a container would be: through CORREIO_* variables
 * (the same ones tools/docker/compose.yaml sets), plus CORREIO_CONFIG so each program also reads
 * its own section of the config file for everything `up` does not wire itself.
 */
export class Topology {
  readonly settings: TopologySettings;
  readonly wiring: Wiring;
  readonly stages: readonly (readonly ComponentSpec[])[];

  constructor(settings: TopologySettings) {
    this.settings = settings;
    const { host, freePorts } = settings;
    const port = (fixed: number) => (freePorts ? '*' : String(fixed));
    this.wiring = {
      broker: `tcp://${host}:${port(settings.brokerPort)}`,
      publishers: `tcp://${host}:${port(settings.publishersPort)}`,
      subscribers: `tcp://${host}:${port(settings.subscribersPort)}`,
      monitoring: {},
    };
    const servers = Array.from({ length: settings.servers }, (_, i) => this.#server(i + 1));
    const bots = Array.from({ length: settings.bots }, (_, i) => this.#bot(i + 1));
    // The gateway needs the broker and the proxy, and the ref's side port for its dashboard: it starts beside the servers, not after them.
    // With ports picked by the system, the proxy starts once the broker's is known: it fetches its settings from the configuration service through it.
    const first = settings.freePorts ? [[this.#broker()], [this.#proxy()]] : [[this.#broker(), this.#proxy()]];
    this.stages = [...first, [this.#ref()], [...servers, this.#gateway()], ...(bots.length > 0 ? [bots] : [])];
  }

  get components(): ComponentSpec[] {
    return this.stages.flat();
  }

  /** Takes note of the endpoints a component actually bound (with free ports, `*` became a number). */
  learn(name: string, readiness: Readiness): void {
    if ((MONITORED as readonly string[]).includes(name) && readiness.fields['http']) this.wiring.monitoring[name as MonitoredProgram] = readiness.fields['http'];
    if (name === 'broker' && readiness.subject) this.wiring.broker = readiness.subject;
    if (name === 'proxy') {
      if (readiness.fields['publishers']) this.wiring.publishers = readiness.fields['publishers'];
      if (readiness.fields['subscribers']) this.wiring.subscribers = readiness.fields['subscribers'];
    }
  }

  /** Keys of the config file that `up` sets itself, so they are ignored under `up` (with a note). */
  overriddenKeys(): string[] {
    const wired: Partial<Record<SectionName, readonly string[]>> = {
      broker: ['endpoint', 'id', 'httpPort', 'httpHost'],
      proxy: ['publishers', 'subscribers', 'httpPort', 'httpHost'],
      ref: ['broker', 'proxyPub', 'proxySub', 'dataDir', 'id', 'httpPort', 'httpHost'],
      server: ['id', 'dataDir', 'broker', 'proxyPub', 'proxySub', 'httpPort', 'httpHost', 'auth', 'authKeys'],
      gateway: ['broker', 'proxy', 'host', 'port', 'auth', 'monitor'],
      bot: ['broker', 'proxySub'],
      client: ['broker', 'proxySub'],
    };
    const sections = this.settings.config?.sections ?? {};
    const found: string[] = [];
    for (const [section, keys] of Object.entries(wired)) {
      const values = sections[section as SectionName] ?? {};
      for (const key of keys) if (key in values) found.push(`${section}.${key}`);
    }
    return found;
  }

  /** The auth mode every server and the gateway run in. */
  get auth(): AuthMode {
    return this.settings.auth ?? 'password';
  }

  /** The users the servers make operators (who may open the dashboard): as the environment or the config file says, else DEFAULT_OPERATOR. */
  get operators(): string {
    const configured = this.settings.config?.sections.server?.['operators'];
    return process.env['CORREIO_SERVER_OPERATORS'] ?? (configured !== undefined ? (Array.isArray(configured) ? configured.join(',') : String(configured)) : DEFAULT_OPERATOR);
  }

  /** The key-set file the servers share, in password mode. */
  get authKeys(): string {
    return resolve(this.settings.authKeys ?? join(this.settings.dataDir, AUTH_KEYS_FILE));
  }

  #http(offset: number): Record<string, string> {
    return { CORREIO_HTTP_HOST: this.settings.host, CORREIO_HTTP_PORT: String(this.settings.freePorts ? 0 : this.settings.httpPortBase + offset) };
  }

  /** What every component gets: the config file, the log level, and where the configuration and log services are. */
  #common(): Record<string, string> {
    return {
      CORREIO_CONFIG_SERVICE: this.wiring.broker,
      CORREIO_LOG_SERVICE: this.wiring.broker,
      CORREIO_CONFIG_EVENTS: this.wiring.subscribers,
      ...(this.settings.config ? { CORREIO_CONFIG: this.settings.config.file } : {}),
      ...(this.settings.logLevel ? { CORREIO_LOG_LEVEL: this.settings.logLevel } : {}),
    };
  }

  /**
   * Defaults that `up` prefers but the user may still set: applied only where neither the
   * environment nor the config file's section says otherwise.
   */
  #soft(section: SectionName, defaults: Record<string, [key: string, value: string | undefined]>): Record<string, string> {
    const values = this.settings.config?.sections[section] ?? {};
    const env: Record<string, string> = {};
    for (const [variable, [key, value]] of Object.entries(defaults)) {
      if (value === undefined || variable in process.env || key in values) continue;
      env[variable] = value;
    }
    return env;
  }

  /** The broker's MDP heartbeating, which every worker (ref, servers) must match. */
  #brokerHeartbeat(): { heartbeat?: string; liveness?: string } {
    const broker = this.settings.config?.sections.broker ?? {};
    const heartbeat = process.env['CORREIO_BROKER_HEARTBEAT'] ?? (broker['heartbeat'] !== undefined ? String(broker['heartbeat']) : undefined);
    const liveness = process.env['CORREIO_BROKER_LIVENESS'] ?? (broker['liveness'] !== undefined ? String(broker['liveness']) : undefined);
    return { ...(heartbeat !== undefined ? { heartbeat } : {}), ...(liveness !== undefined ? { liveness } : {}) };
  }

  #broker(): ComponentSpec {
    return {
      name: 'broker',
      program: 'broker',
      args: [],
      ready: programReady('broker'),
      mayFinish: false,
      env: () => ({ ...this.#common(), ...this.#http(HTTP_PORT_OFFSETS.broker), CORREIO_BROKER_ENDPOINT: this.wiring.broker, CORREIO_BROKER_ID: 'broker' }),
    };
  }

  #proxy(): ComponentSpec {
    return {
      name: 'proxy',
      program: 'proxy',
      args: [],
      ready: programReady('proxy'),
      mayFinish: false,
      env: () => ({
        ...this.#common(),
        ...this.#http(HTTP_PORT_OFFSETS.proxy),
        CORREIO_PROXY_PUBLISHERS: this.wiring.publishers,
        CORREIO_PROXY_SUBSCRIBERS: this.wiring.subscribers,
        // Guarded: subscriptions capped per connection and in total (docs/architecture.md); its CPU
        // cost per message is far below what `up`'s traffic needs. The proxy program's own default stays native.
        ...this.#soft('proxy', { CORREIO_PROXY_MODE: ['mode', 'guarded'] }),
      }),
    };
  }

  #ref(): ComponentSpec {
    return {
      name: 'ref',
      program: 'ref',
      args: [],
      ready: programReady('ref'),
      mayFinish: false,
      env: () => {
        const { heartbeat, liveness } = this.#brokerHeartbeat();
        return {
          ...this.#soft('ref', { CORREIO_REF_BROKER_HEARTBEAT: ['brokerHeartbeat', heartbeat], CORREIO_REF_BROKER_LIVENESS: ['brokerLiveness', liveness] }),
          ...this.#common(),
          ...this.#http(HTTP_PORT_OFFSETS.ref),
          CORREIO_REF_BROKER: this.wiring.broker,
          CORREIO_REF_PROXY_PUB: this.wiring.publishers,
          CORREIO_REF_PROXY_SUB: this.wiring.subscribers,
          CORREIO_REF_DATA_DIR: resolve(join(this.settings.dataDir, 'ref')),
          CORREIO_REF_ID: 'ref',
        };
      },
    };
  }

  /** The reference server's heartbeat period and misses, which every server's registration must match. */
  #refHeartbeat(): { heartbeat?: string; misses?: string } {
    const ref = this.settings.config?.sections.ref ?? {};
    const heartbeat = process.env['CORREIO_REF_HEARTBEAT'] ?? (ref['heartbeat'] !== undefined ? String(ref['heartbeat']) : undefined);
    const misses = process.env['CORREIO_REF_MISSES'] ?? (ref['misses'] !== undefined ? String(ref['misses']) : undefined);
    return { ...(heartbeat !== undefined ? { heartbeat } : {}), ...(misses !== undefined ? { misses } : {}) };
  }

  /** srv-1 … srv-N evenly over [-skew, +skew]. */
  #skew(index: number): string | undefined {
    const skew = this.settings.clockSkewMs;
    if (!skew || this.settings.servers < 2) return undefined;
    return String(Math.round(-skew + (2 * skew * (index - 1)) / (this.settings.servers - 1)));
  }

  #server(index: number): ComponentSpec {
    const id = `srv-${index}`;
    return {
      name: id,
      program: 'server',
      args: [],
      ready: programReady('server'),
      mayFinish: false,
      env: () => {
        const { heartbeat, liveness } = this.#brokerHeartbeat();
        const ref = this.#refHeartbeat();
        return {
          ...this.#soft('server', {
            CORREIO_SERVER_HEARTBEAT: ['heartbeat', heartbeat],
            CORREIO_SERVER_LIVENESS: ['liveness', liveness],
            CORREIO_SERVER_REF_HEARTBEAT: ['refHeartbeat', ref.heartbeat],
            CORREIO_SERVER_REF_MISSES: ['refMisses', ref.misses],
            CORREIO_SERVER_CLOCK_SKEW_MS: ['clockSkewMs', this.#skew(index)],
            CORREIO_SERVER_OPERATORS: ['operators', DEFAULT_OPERATOR],
          }),
          ...this.#common(),
          ...this.#http(HTTP_PORT_OFFSETS.server(index)),
          CORREIO_SERVER_ID: id,
          CORREIO_SERVER_DATA_DIR: resolve(join(this.settings.dataDir, id)),
          CORREIO_SERVER_BROKER: this.wiring.broker,
          CORREIO_SERVER_PROXY_PUB: this.wiring.publishers,
          CORREIO_SERVER_PROXY_SUB: this.wiring.subscribers,
          CORREIO_SERVER_AUTH: this.auth,
          CORREIO_AUTH_KEYS: this.authKeys,
        };
      },
    };
  }

  /** The gateway's dashboard watches broker, proxy and ref by their side ports: known by now, since they were ready before the gateway's stage. */
  #monitors(): Record<string, string> {
    const monitors = MONITORED.flatMap((name) => (this.wiring.monitoring[name] !== undefined ? [`${name}=${this.wiring.monitoring[name]}`] : []));
    return monitors.length > 0 ? { CORREIO_GATEWAY_MONITOR: monitors.join(',') } : {};
  }

  /** The HTTP + WebSocket edge; its readiness line carries the URL. */
  #gateway(): ComponentSpec {
    return {
      name: 'gateway',
      program: 'gateway',
      args: [],
      ready: programReady('gateway'),
      mayFinish: false,
      env: () => ({
        ...this.#common(),
        ...this.#http(HTTP_PORT_OFFSETS.gateway),
        CORREIO_GATEWAY_BROKER: this.wiring.broker,
        CORREIO_GATEWAY_PROXY: this.wiring.subscribers,
        CORREIO_GATEWAY_HOST: this.settings.host,
        CORREIO_GATEWAY_PORT: String(this.settings.freePorts ? 0 : (this.settings.gatewayPort ?? 8080)),
        CORREIO_GATEWAY_AUTH: this.auth,
        ...this.#monitors(),
      }),
    };
  }

  #bot(index: number): ComponentSpec {
    // A bot is one chat session per user, and a session talks to one server (srv.<id>), as a
    // sticky client would: a user logged in on one server is unknown to another until replication
    // has carried the login over. The bots spread over the servers; replication does the rest.
    const server = `srv-${((index - 1) % this.settings.servers) + 1}`;
    const seconds = this.settings.durationMs !== undefined ? Math.ceil(this.settings.durationMs / 1000) + 60 : UNBOUNDED_BOT_SECONDS;
    return {
      name: `bot-${index}`,
      program: 'client',
      args: ['bot'],
      ready: BOT_READY,
      mayFinish: true,
      env: () => ({
        ...this.#soft('bot', {
          CORREIO_BOT_DURATION: ['duration', String(seconds)],
          CORREIO_BOT_USER_PREFIX: ['userPrefix', `bot${index}`],
          CORREIO_CHAT_SERVICE: ['service', `srv.${server}`],
        }),
        ...this.#common(),
        CORREIO_BROKER: this.wiring.broker,
        CORREIO_PROXY_SUB: this.wiring.subscribers,
      }),
    };
  }
}
