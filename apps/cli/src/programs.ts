// Each program's command line only (its `./cli` entry): `correio` does not load every program to run one.
import { brokerCommand } from '@correio/broker/cli';
import { clientCommand } from '@correio/client/cli';
import { gatewayCommand } from '@correio/gateway/cli';
import type { Command } from '@correio/observability';
import { proxyCommand } from '@correio/proxy/cli';
import { refCommand } from '@correio/ref/cli';
import { serverCommand } from '@correio/server/cli';

/** The Correio programs `correio` runs, each under its own subcommand. */
export type ProgramName = 'broker' | 'proxy' | 'ref' | 'server' | 'gateway' | 'client';

/** A config-file section: one per program, plus `bot` for `correio client bot`. */
export type SectionName = ProgramName | 'bot';

export interface Program {
  readonly name: ProgramName;
  /** The workspace package that owns the program. */
  readonly packageName: string;
  /** Its entry in that package's `bin`: what `correio <name>` runs, in this process. */
  readonly binName: string;
  /** One line for `correio --help`. */
  readonly summary: string;
  /**
   * The program's own command line, as its package exports it: the single source of its flags,
   * environment variables and defaults. `correio` reads it for help, config sections and checks.
   */
  command(): Command;
}

const noAction = (): Promise<number> => Promise.resolve(0);

function clientProgram(): Command {
  // Only the definition is wanted here; running the client goes through its own main.
  return clientCommand({ interactive: noAction, bot: noAction }, () => undefined);
}

export const PROGRAMS: Readonly<Record<ProgramName, Program>> = {
  broker: {
    name: 'broker',
    packageName: '@correio/broker',
    binName: 'correio-broker',
    summary: 'request/reply broker (Majordomo MDP/0.2): clients and servers meet here',
    command: brokerCommand,
  },
  proxy: {
    name: 'proxy',
    packageName: '@correio/proxy',
    binName: 'correio-proxy',
    summary: 'pub/sub proxy (XSUB/XPUB): publications, replication and membership events',
    command: proxyCommand,
  },
  ref: {
    name: 'ref',
    packageName: '@correio/ref',
    binName: 'correio-ref',
    summary: 'reference server: server ranks, heartbeats, membership, the coordinator',
    command: refCommand,
  },
  server: {
    name: 'server',
    packageName: '@correio/server',
    binName: 'correio-server',
    summary: 'chat server: users, channels, messages, stored durably and replicated',
    command: serverCommand,
  },
  gateway: {
    name: 'gateway',
    packageName: '@correio/gateway',
    binName: 'correio-gateway',
    summary: 'HTTP + WebSocket gateway: a JSON API (OpenAPI) and live streams for web and mobile clients',
    command: gatewayCommand,
  },
  client: {
    name: 'client',
    packageName: '@correio/client',
    binName: 'correio-client',
    summary: 'chat client (interactive, --json for scripts) and `client bot` for traffic',
    command: clientProgram,
  },
};

export const PROGRAM_NAMES = Object.keys(PROGRAMS) as ProgramName[];

/** The command whose options a config section holds: `bot` is the client's `bot` subcommand. */
export function sectionCommand(section: SectionName): Command {
  if (section !== 'bot') return PROGRAMS[section].command();
  const bot = PROGRAMS.client.command().commands.find((command) => command.name() === 'bot');
  if (!bot) throw new Error('@correio/client no longer defines the `bot` subcommand');
  return bot;
}

export const SECTION_NAMES: readonly SectionName[] = [...PROGRAM_NAMES, 'bot'];
